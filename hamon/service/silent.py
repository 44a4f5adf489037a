"""pair_silent: a pair that normally talks has not been heard for its `silent_after` (inventory,
default 15 min) — a unit or the whole pair lost, a relay down, an ACL that dropped the syslog.

A pair "normally talks" when its senders were heard in at least NORMALLY_TALKS distinct seconds of
the hour before it fell silent: a pair that logs a line now and then is not paged for being quiet.
This is decided by the running service on the wall clock (every CHECK_EVERY seconds) from the
per-sender activity that running services stored (a replayed archive's pairs are history, not
silent), not by the correlator from events, so a replay of a capture never raises it. The alert starts at the last second the pair was heard and ends when it is heard again.

One unit: when a pair has several senders and one that normally talks falls silent for
`silent_after` while another is still heard, pair_silent opens for that sender (with the unit that
answered at its address when last polled, if polled) — the standby's logging lost, its path cut.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from hamon.correlate.traffic import Traffic
from hamon.model import AlertOpen, AlertResolve, Output
from hamon.resolve.inventory import Inventory, PairConfig, unit_address
from hamon.store import outputs
from hamon.store.db import Store

CHECK_EVERY = 30.0  # seconds between looks
NORMALLY_TALKS = 60  # seconds heard in the hour before falling silent


@dataclass
class SilenceWatch:
    store: Store
    inventory: Inventory | None = None
    owns: Callable[[str], bool] = field(default=lambda _pair: True)  # a worker: only its pairs

    def config(self, pair: str) -> PairConfig:
        return self.inventory.pair(pair) if self.inventory else PairConfig(name=pair)

    def check(self, now: dt.datetime) -> list[Output]:
        """Open pair_silent for the pairs fallen silent — and for a sender of a pair gone quiet while
        the pair's other senders still talk (one unit lost) — resolve it for those heard again;
        stored."""
        heard: dict[str, dict[str, dt.datetime]] = {}
        for row in self.store.live_sources():  # a replayed archive's pairs are history, not silent
            pair, last = row["pair"], row["last_at"]
            if last is None or not self.owns(pair):
                continue
            heard.setdefault(pair, {})[row["source"]] = last
        open_now = {
            (a["pair"], _sender_of(a)): a for a in outputs.alert_list(self.store, open_only=True, kind="pair_silent")
        }
        changes: list[Output] = []
        for pair, senders in sorted(heard.items()):
            last = max(senders.values())
            after = self.config(pair).silent_after
            alert = open_now.get((pair, None))
            if alert is not None:
                if last > dt.datetime.fromisoformat(alert["started_at"]):
                    changes.append(AlertResolve(alert["alert_id"], last, (), now))
            elif after > 0 and (now - last).total_seconds() >= after and self._talks(pair, last):
                quiet = int((now - last).total_seconds())
                who = ", ".join(sorted(senders)[:4]) + (", …" if len(senders) > 4 else "")
                detail = (
                    f"no message from {pair} for {quiet // 60} min (silent_after {after:.0f} s); its senders: {who}"
                )
                changes.append(AlertOpen(pair, "pair_silent", "warning", None, None, last, detail, (), now))
            if len(senders) > 1:
                changes += self._quiet_senders(pair, senders, open_now, after, now)
        if changes:
            outputs.write_alert_changes(self.store, changes)
        return changes

    def _quiet_senders(
        self,
        pair: str,
        senders: dict[str, dt.datetime],
        open_now: dict[tuple[str, str | None], dict[str, object]],
        after: float,
        now: dt.datetime,
    ) -> list[Output]:
        """One sender of a pair (a unit's address) silent while another still talks."""
        changes: list[Output] = []
        newest = max(senders.values())
        units: dict[str, str] | None = None
        for sender, last in sorted(senders.items()):
            alert = open_now.get((pair, sender))
            if alert is not None:
                if last > dt.datetime.fromisoformat(str(alert["started_at"])):
                    changes.append(AlertResolve(str(alert["alert_id"]), last, (), now))
                continue
            if after <= 0 or (now - last).total_seconds() < after or (now - newest).total_seconds() >= after:
                continue  # not quiet, or the whole pair is (that is the pair's alert)
            if not self._talks(pair, last, only=sender):
                continue
            if units is None:
                units = self._units_by_address(pair)
            unit = units.get(sender)
            quiet = int((now - last).total_seconds())
            whose = f" ({unit}, by its last poll)" if unit else ""
            detail = (
                f"sender {sender}{whose} of {pair} not heard for {quiet // 60} min while its other senders talk "
                f"(silent_after {after:.0f} s): that unit, its logging or its path is lost"
            )
            changes.append(AlertOpen(pair, "pair_silent", "warning", None, unit, last, detail, (), now))
        return changes

    def _units_by_address(self, pair: str) -> dict[str, str]:
        """Which unit answered at each address when last polled (`show failover`: This host)."""
        out = {}
        for unit, source in outputs.poll_sources(self.store, pair).items():
            try:
                host = unit_address(source)[0]  # HOST, HOST:PORT or [IPv6]:PORT, as `poll:` lists it
            except ValueError:
                host = source
            out[host] = unit
        return out

    def _talks(self, pair: str, last: dt.datetime, only: str | None = None) -> bool:
        t = last.timestamp()
        heard = self.store.traffic(pair, since=last - dt.timedelta(hours=1))
        if only is not None:
            heard = {only: heard.get(only, {})}
        return Traffic(heard).seconds_heard(t - 3600.0, t + 1.0) >= NORMALLY_TALKS


def _sender_of(alert: dict[str, object]) -> str | None:
    """The sender a pair_silent alert is about (None: the whole pair)."""
    detail = str(alert.get("detail") or "")
    return detail.split(" ", 2)[1] if detail.startswith("sender ") else None
