"""pair_silent: a pair that normally talks has not been heard for its `silent_after` (inventory,
default 15 min) — a unit or the whole pair lost, a relay down, an ACL that dropped the syslog.

A pair "normally talks" when its senders were heard in at least NORMALLY_TALKS distinct seconds of
the hour before it fell silent: a pair that logs a line now and then is not paged for being quiet.
This is decided by the running service on the wall clock (every CHECK_EVERY seconds) from the
per-sender activity that running services stored (a replayed archive's pairs are history, not
silent), not by the correlator from events, so a replay of a capture never raises it. The alert starts at the last second the pair was heard and ends when it is heard again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from hamon.correlate.traffic import Traffic
from hamon.model import AlertOpen, AlertResolve, Output
from hamon.resolve.inventory import Inventory, PairConfig
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
        """Open pair_silent for the pairs fallen silent, resolve it for those heard again; stored."""
        heard: dict[str, dt.datetime] = {}
        senders: dict[str, list[str]] = {}
        for row in self.store.live_sources():  # a replayed archive's pairs are history, not silent
            pair, last = row["pair"], row["last_at"]
            if last is None or not self.owns(pair):
                continue
            heard[pair] = max(heard.get(pair, last), last)
            senders.setdefault(pair, []).append(row["source"])
        open_now = {a["pair"]: a for a in outputs.alert_list(self.store, open_only=True, kind="pair_silent")}
        changes: list[Output] = []
        for pair, last in sorted(heard.items()):
            alert = open_now.get(pair)
            if alert is not None:
                if last > dt.datetime.fromisoformat(alert["started_at"]):
                    changes.append(AlertResolve(alert["alert_id"], last, (), now))
                continue
            after = self.config(pair).silent_after
            if after <= 0 or (now - last).total_seconds() < after or not self._talks(pair, last):
                continue
            quiet = int((now - last).total_seconds())
            who = ", ".join(sorted(senders[pair])[:4]) + (", …" if len(senders[pair]) > 4 else "")
            detail = f"no message from {pair} for {quiet // 60} min (silent_after {after:.0f} s); its senders: {who}"
            changes.append(AlertOpen(pair, "pair_silent", "warning", None, None, last, detail, (), now))
        if changes:
            outputs.write_alert_changes(self.store, changes)
        return changes

    def _talks(self, pair: str, last: dt.datetime) -> bool:
        t = last.timestamp()
        traffic = Traffic(self.store.traffic(pair, since=last - dt.timedelta(hours=1)))
        return traffic.seconds_heard(t - 3600.0, t + 1.0) >= NORMALLY_TALKS
