"""What the timeline pictures say: every lane, the detection window, alert spans, failover labels
that never overlap, the HTML page's header and order — and the page as a real browser draws it."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path
from typing import Any

import matplotlib
import pytest
from scenario import P, S, play

from hamon.views import draw
from hamon.views.incidents import Incident

matplotlib.use("Agg")
import matplotlib.dates as mdates

EXAMPLE = Path(__file__).parent.parent / "examples" / "asa-pair.log"
T0 = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)

STEADY = [
    P(0, 104001, "Switching to ACTIVE - Set by the config command."),
    S(1, 104002, "Switching to STANDBY - Other unit wants me Standby."),
]
# Two incidents 20 minutes apart: the primary loses power, rejoins; later the secondary is failed by
# an interface check and the primary takes over again.
TWO_INCIDENTS = STEADY + [
    S(100, 105005, "Lost Failover communications with mate on interface failover"),
    S(115, 104001, "Switching to ACTIVE - HELLO not heard from mate."),
    P(400, 105002, "Enabling failover."),
    P(402, 104002, "Switching to STANDBY - Detected an Active mate"),
    S(1600, 105011, "Failover LAN became OK"),
    P(1700, 104001, "Switching to ACTIVE - Other unit wants me Active. Secondary unit switch reason: Interface check."),
    S(1700, 104003, "Switching to FAILED."),
]


def _figure_of(s: Any, pair: str = "fw") -> tuple[Any, dt.datetime, dt.datetime]:
    from hamon.store import Store
    from hamon.store.outputs import pair_list
    from hamon.views import incidents as inc_mod

    store = Store(s.db)
    try:
        incidents, transitions = inc_mod.build(store, pair)
        mode = pair_list(store, pair)[0]["mode"]
    finally:
        store.close()
    start, end = T0 - dt.timedelta(seconds=60), T0 + dt.timedelta(minutes=40)
    return draw.figure(pair, incidents, transitions, start, end, mode=mode), start, end


def _states(fig: Any) -> dict[str, list[tuple[float, float, str]]]:
    """Each lane's drawn bars: (x0, x1, state), left to right."""
    lanes: dict[str, list[tuple[float, float, str]]] = {}
    for p in fig.axes[0].patches:
        gid = p.get_gid() or ""
        if gid.startswith("state:"):
            _, lane, state = gid.split(":")
            lanes.setdefault(lane, []).append((p.get_x(), p.get_x() + p.get_width(), state))
    return {k: sorted(v) for k, v in lanes.items()}


def test_every_lane_is_drawn_and_grey_until_known(tmp_path: Path) -> None:
    s = play(tmp_path, TWO_INCIDENTS)
    fig, start, _ = _figure_of(s)
    lanes = _states(fig)
    assert set(lanes) == {"primary", "secondary"}
    x0 = mdates.date2num(start)
    assert lanes["primary"][0] == pytest.approx((x0, mdates.date2num(T0), "unknown"), abs=1e-9)
    assert [st for _, _, st in lanes["primary"]] == ["unknown", "active", "failed", "standby", "active"]
    assert [st for _, _, st in lanes["secondary"]][-1] == "failed"


def test_active_active_lanes_exist_for_a_group_that_never_changed(tmp_path: Path) -> None:
    from scenario import Scenario

    s = Scenario(tmp_path)
    s.run("replay", str(EXAMPLE), "--no-progress")
    fig, _, _ = _figure_of(s, "fw-dc")
    lanes = _states(fig)
    assert set(lanes) == {f"{u} · group {g}" for u in ("primary", "secondary") for g in (1, 2)}
    assert {st for _, _, st in lanes["primary · group 2"]} == {"unknown"}
    assert [st for _, _, st in lanes["secondary · group 1"]] == ["unknown", "active"]


def test_detection_window_runs_from_first_symptom_to_takeover(tmp_path: Path) -> None:
    s = play(tmp_path, TWO_INCIDENTS)
    fig, _, _ = _figure_of(s)
    windows = [c for c in fig.axes[0].collections if c.get_gid() == "detection"]
    assert windows, "no detection window drawn"
    xs = windows[0].get_paths()[0].vertices[:, 0]
    takeover = mdates.date2num(T0 + dt.timedelta(seconds=115))
    assert (xs.min(), xs.max()) == pytest.approx((takeover - 15 / 86400, takeover), abs=1e-7)
    labels = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "failover-label"]
    assert labels[1] == "10:01:55 → secondary: mate not heard (hellos lost), detected in 15s"


def test_alert_spans_are_drawn_from_open_to_resolution(tmp_path: Path) -> None:
    s = play(tmp_path, TWO_INCIDENTS)
    fig, _, end = _figure_of(s)
    alerts = s.alerts()
    bars = sorted((p.get_x(), p.get_x() + p.get_width()) for p in fig.axes[0].patches if p.get_gid() == "alert")
    want = sorted(
        (
            mdates.date2num(dt.datetime.fromisoformat(a["started_at"].replace("Z", "+00:00"))),
            mdates.date2num(dt.datetime.fromisoformat(a["ended_at"].replace("Z", "+00:00")))
            if a["ended_at"]
            else mdates.date2num(end),
        )
        for a in alerts
    )
    assert len(bars) == len(want)
    for got, expected in zip(bars, want, strict=True):
        assert got == pytest.approx(expected, abs=1e-6)
    words = {t.get_text() for t in fig.axes[0].texts if t.get_gid() == "alert-label"}
    assert {a["kind"].replace("_", " ") + ("" if a["ended_at"] else " (open)") for a in alerts} == words


def _busy(n: int, every_s: float) -> list[Incident]:
    fos = [
        {
            "pair": "fw",
            "group": None,
            "at": (T0 + dt.timedelta(seconds=i * every_s)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "new_active": "secondary" if i % 2 == 0 else "primary",
            "previous_active": "primary" if i % 2 == 0 else "secondary",
            "cause": "interface_failure",
            "cause_text": None,
            "detection_s": 5.0,
        }
        for i in range(n)
    ]
    end = T0 + dt.timedelta(seconds=n * every_s)
    return [Incident(T0, end, failovers=fos)]


def _overlaps(fig: Any, gid: str) -> list[tuple[str, str]]:
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(r)) for t in fig.axes[0].texts if t.get_gid() == gid]
    return [(a, b) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1 :] if ba.overlaps(bb)]


@pytest.mark.parametrize(("n", "every_s", "numbered"), [(6, 20.0, False), (60, 10.0, True), (200, 1.0, True)])
def test_failover_labels_never_overlap_on_a_busy_day(n: int, every_s: float, numbered: bool) -> None:
    incidents = _busy(n, every_s)
    start, end = T0 - dt.timedelta(seconds=30), T0 + dt.timedelta(seconds=n * every_s + 30)
    fig = draw.figure("fw", incidents, [], start, end)
    labels = [t for t in fig.axes[0].texts if t.get_gid() == "failover-label"]
    assert len(labels) == n
    assert _overlaps(fig, "failover-label") == []
    notes = [t.get_text() for t in fig.texts if t.get_gid() == "footnote"]
    if numbered:  # too many for sentences on the picture: numbers, every sentence beneath it
        assert [t.get_text() for t in labels] == [str(i) for i in range(1, n + 1)]
        assert notes and len(notes[0].splitlines()) == n
        assert notes[0].splitlines()[0] == "1. 10:00:00 → secondary: interface health check failed, detected in 5s"
    else:
        assert all("interface health check failed" in t.get_text() for t in labels) and not notes


def test_html_page_has_the_header_and_the_newest_incident_first(tmp_path: Path) -> None:
    s = play(tmp_path, TWO_INCIDENTS)
    page = tmp_path / "t.html"
    s.run("timeline", "fw", "--html", str(page))
    text = page.read_text()
    assert "<dd id='now'>primary active, secondary failed (failover link" in text
    assert text.index("id='incident-2'") < text.index("id='incident-1'")
    assert "Open alerts (1)" in text and "critical unit_failed" in text
    assert "td.at,td.who,td.what{white-space:nowrap}" in text
    # an alert's rows carry its severity; the failover row is marked as one
    assert "<tr class='critical'><td class='at'>2026-11-25T10:28:20Z</td><td class='what'>alert_open</td>" in text
    assert "<tr class='failover'><td class='at'>2026-11-25T10:28:20Z</td>" in text


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _screenshot(html: Path, png: Path, width: int, height: int) -> None:
    chromium = _chromium()
    assert chromium
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={png.parent / 'chromium-profile'}",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
        f"--screenshot={png}",
        html.as_uri(),
    ]
    proc = subprocess.run([chromium, *flags], capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0 and png.exists(), proc.stderr[-2000:]


def _pixels(png: Path, colour: str, tolerance: int = 12) -> int:
    """How many of the screenshot's pixels are within `tolerance` of the colour."""
    import numpy as np
    from PIL import Image

    want = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    return int((np.abs(img - want) <= tolerance).all(axis=2).sum())


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (apt install chromium)")
def test_chromium_draws_the_html_timeline(tmp_path: Path) -> None:
    from scenario import Scenario

    s = Scenario(tmp_path)
    s.run("replay", str(EXAMPLE), "--no-progress")
    page = tmp_path / "fw-edge.html"
    s.run("timeline", "fw-edge", "--html", str(page))
    shot = tmp_path / "shot.png"
    _screenshot(page, shot, 1400, 1800)
    # the picture is drawn: failed primary (red), active secondary (green), grey before anything was
    # known, the sync (yellow) and the standby it ended in (blue) — each a visible share of the page
    for state in ("failed", "active", "unknown", "syncing", "standby"):
        assert _pixels(shot, draw.COLOURS[state]) > 200, state
    # the picture scales with the window: a narrower one shows it whole, smaller
    narrow = tmp_path / "narrow.png"
    _screenshot(page, narrow, 900, 1800)
    assert 0 < _pixels(narrow, draw.COLOURS["failed"]) < _pixels(shot, draw.COLOURS["failed"])


def test_a_split_brain_shades_the_state_lanes_for_its_span(tmp_path: Path) -> None:
    s = play(
        tmp_path,
        STEADY
        + [
            P(100, 104001, "Switching to ACTIVE - No Active unit found"),
            S(100, 104001, "Switching to ACTIVE - No Active unit found"),
        ],
    )
    fig, _, _ = _figure_of(s)
    (band,) = [c for c in fig.axes[0].collections if c.get_gid() == "split-brain"]
    (alert,) = [a for a in s.alerts() if a["kind"] == "split_brain"]
    xs = band.get_paths()[0].vertices[:, 0]
    started = mdates.date2num(dt.datetime.fromisoformat(alert["started_at"].replace("Z", "+00:00")))
    assert xs.min() == pytest.approx(started, abs=1e-7)
    ys = band.get_paths()[0].vertices[:, 1]
    assert (ys.min(), ys.max()) == pytest.approx((-0.5, 1.5))  # the two state lanes, not the alert rows
