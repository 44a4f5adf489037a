"""The failing unit falling silent: a detection symptom read from when the pair's senders were heard."""

from __future__ import annotations

from pathlib import Path

from scenario import P, S, U, iso, play

from hamon.correlate.traffic import Traffic

STEADY = [
    P(0, 104001, "Switching to ACTIVE - Set by the config command."),
    S(1, 104002, "Switching to STANDBY - Other unit wants me Standby."),
]


def traffic(start: int, stop: int, every: int = 1) -> list:
    return [
        U(
            t,
            302013,
            f"Built inbound TCP connection {t} for outside:198.51.100.1/{40000 + t} "
            f"(198.51.100.1/{40000 + t}) to inside:10.0.0.1/443 (10.0.0.1/443)",
            6,
        )
        for t in range(start, stop + 1, every)
    ]


def test_a_busy_active_unit_falling_silent_starts_detection(tmp_path: Path) -> None:
    # The primary logs a connection a second until it loses power at 100 s; only the active unit
    # logs, so the pair goes quiet until the secondary takes over when its 15 s hold time expires.
    s = play(
        tmp_path,
        STEADY
        + traffic(2, 100)
        + [S(115, 104001, "Switching to ACTIVE - HELLO not heard from mate.")]
        + traffic(116, 130),
    )
    fo = s.failovers()[-1]
    assert (fo["cause"], fo["at"], fo["detection_s"]) == ("peer_unreachable", iso(115), 15.0)
    assert "slow_failover" not in s.kinds()


def test_a_long_silence_before_the_takeover_is_a_slow_failover(tmp_path: Path) -> None:
    s = play(tmp_path, STEADY + traffic(2, 100) + [S(140, 104001, "Switching to ACTIVE - HELLO not heard from mate.")])
    assert s.failovers()[-1]["detection_s"] == 40.0
    assert "slow_failover" in s.kinds()


def test_a_quiet_pair_pausing_is_not_taken_for_a_failure(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY + traffic(2, 100, every=20) + [S(115, 104001, "Switching to ACTIVE - HELLO not heard from mate.")],
    )
    assert s.failovers()[-1]["detection_s"] is None


def test_earlier_symptoms_still_count_first(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + traffic(2, 100)
        + [
            S(95, 105005, "Lost Failover communications with mate on interface failover"),
            S(115, 104001, "Switching to ACTIVE - HELLO not heard from mate."),
        ],
    )
    assert s.failovers()[-1]["detection_s"] == 20.0


def test_traffic_bitmaps() -> None:
    hour = 1_764_064_800.0  # an hour boundary
    t = Traffic({"a": {hour: (1 << 10) | (1 << 20)}, "b": {hour - 3600: 1 << 3599}, "standby": {hour: 1 << 30}})
    assert t.last_heard(hour + 25) == hour + 20
    assert t.last_heard(hour + 20) == hour + 10  # strictly before
    assert t.last_heard(hour + 5) == hour - 1  # the previous hour
    assert t.last_heard(hour + 40, exclude=["standby"]) == hour + 20
    assert t.last_heard(hour + 40) == hour + 30
    assert t.last_heard(hour + 5000, horizon=60) is None
    assert t.seconds_heard(hour - 1, hour + 21) == 3
    assert t.seconds_heard(hour + 11, hour + 20) == 0
