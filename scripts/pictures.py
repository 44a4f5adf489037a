"""Regenerate the README's pictures and the sample's pinned timeline from the sample capture.

    python scripts/pictures.py                       # timelines (SQLite, nothing else needed)
    python scripts/pictures.py --postgres URL        # also the dashboard pictures (a scratch database
                                                     # named hamon_pictures is made on that server)

Writes docs/timeline-fw-edge.png, docs/timeline-fw-dc.png, docs/sample-timeline.json (what
`hamon timeline --json` says of each sample pair; tests/test_docs.py compares it with a fresh replay
so the pictures cannot go stale without a failing test) and the terminal timeline in README.md between
its `<!-- timeline fw-edge -->` markers; with --postgres, docs/dashboards/*.png for a generated day of
30 pairs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "asa-pair.log"
PAIRS = ("fw-edge", "fw-dc")
BEGIN, END = "<!-- timeline fw-edge -->", "<!-- /timeline fw-edge -->"


def hamon(db: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "hamon", "--db", db, *args], capture_output=True, text=True, check=False, timeout=600
    )
    if proc.returncode != 0:
        sys.exit(f"hamon {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def timelines(tmp: Path) -> None:
    db = f"sqlite:///{tmp / 'sample.db'}"
    hamon(db, "replay", str(SAMPLE), "--no-progress")
    pinned = {}
    for pair in PAIRS:
        png = ROOT / "docs" / f"timeline-{pair}.png"
        hamon(db, "timeline", pair, "--png", str(png))
        pinned[pair] = json.loads(hamon(db, "timeline", pair, "--json"))
        print(f"wrote {png.relative_to(ROOT)}")
    (ROOT / "docs" / "sample-timeline.json").write_text(json.dumps(pinned, indent=2, ensure_ascii=False) + "\n")
    print("wrote docs/sample-timeline.json")
    text = hamon(db, "timeline", "fw-edge").rstrip("\n")
    readme = ROOT / "README.md"
    doc = readme.read_text()
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n```\n{text}\n```\n{END}{tail}")
    print("wrote the timeline in README.md")


def dashboards(tmp: Path, postgres: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(postgres, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS hamon_pictures"))
        conn.execute(sa.text("CREATE DATABASE hamon_pictures"))
    engine.dispose()
    db = sa.make_url(postgres).set(database="hamon_pictures").render_as_string(hide_password=False)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import correlate  # the fleet generator of benchmarks/correlate.py

    fleet = tmp / "fleet.log"
    correlate.generate(fleet, 30, 200, seed=11)
    hamon(db, "replay", str(fleet), "--no-progress")
    out = hamon(db, "dashboards", "preview", str(ROOT / "docs" / "dashboards"))
    print(out.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--postgres", metavar="URL", help="a PostgreSQL server for the dashboard pictures")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hamon-pictures-") as d:
        timelines(Path(d))
        if args.postgres:
            dashboards(Path(d), args.postgres)
        else:
            print("dashboard pictures left as they are (they need --postgres URL)")


if __name__ == "__main__":
    main()
