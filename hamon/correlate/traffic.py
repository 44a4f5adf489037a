"""When a pair's senders were heard, to the second: how the correlator sees a unit falling silent."""

from __future__ import annotations

import math
from collections.abc import Iterable

HOUR = 3600.0


class Traffic:
    """Per sender, per hour (epoch seconds of its start), a bitmap of the seconds it was heard in."""

    def __init__(self, heard: dict[str, dict[float, int]] | None = None) -> None:
        self.heard = heard or {}

    def last_heard(
        self, before: float, exclude: Iterable[str] = (), horizon: float = 600.0, seconds: Iterable[float] = ()
    ) -> float | None:
        """The latest whole second before `before` in which any sender (but the excluded) was heard,
        leaving out the given seconds (those in which only a unit known to be alive spoke)."""
        skip = set(exclude)
        unheard: dict[float, int] = {}  # hour -> bits of the seconds left out
        for t in seconds:
            hour = math.floor(t / HOUR) * HOUR
            unheard[hour] = unheard.get(hour, 0) | (1 << int(math.floor(t) - hour))
        best: float | None = None
        end = math.floor(before)
        for source, hours in self.heard.items():
            if source in skip:
                continue
            hour = math.floor(end / HOUR) * HOUR
            limit = int(end - hour)  # seconds of this hour strictly before `end`
            while hour >= before - horizon - HOUR:
                mask = hours.get(hour, 0) & ((1 << max(limit, 0)) - 1) & ~unheard.get(hour, 0)
                if mask:
                    t = hour + mask.bit_length() - 1
                    best = t if best is None else max(best, t)
                    break
                hour -= HOUR
                limit = int(HOUR)
        return best

    def seconds_heard(self, start: float, end: float, exclude: Iterable[str] = ()) -> int:
        """In how many whole seconds of [start, end) any sender (but the excluded) was heard."""
        skip = set(exclude)
        union: dict[float, int] = {}
        for source, hours in self.heard.items():
            if source not in skip:
                for hour, mask in hours.items():
                    union[hour] = union.get(hour, 0) | mask
        n = 0
        t = float(math.floor(start))
        while t < end:
            hour = math.floor(t / HOUR) * HOUR
            upto = min(end, hour + HOUR)
            lo, hi = int(t - hour), math.ceil(upto - hour)
            n += bin((union.get(hour, 0) >> lo) & ((1 << (hi - lo)) - 1)).count("1")
            t = hour + HOUR
        return n
