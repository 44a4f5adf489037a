"""Mutated syslog lines for the fuzz test: every fixture line (framing, messages, bad input) and the
sample capture, mutated the ways a hostile network mutates them.

    python tests/fuzz_lines.py --lines 200000 --seed 1 > mutated.log

Kinds of mutation: byte and bit flips, truncation, absurd timestamps (years 0001, 0999, 9999,
minute 60), huge numbers, NUL, invalid UTF-8, C0/C1 control characters, rich markup, 1 MB lines.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).parent.parent
STAMPS = [
    b"Dec 31 9999 23:59:59 -01:00",
    b"9999-12-31T23:59:59-01:00",
    b"0001-01-01T00:00:00+01:00",
    b"Nov 25 0999 10:00:00",
    b"Nov 25 2026 10:60:00",
    b"Feb 30 2026 10:00:00",
    b"Nov 25 2026 25:00:00",
]
NUMBERS = [b"99999999999999999999999", b"-99999999999999999999", b"18446744073709551616", b"0" * 400]
INSERTS = [
    b"\x00",
    b"\xff\xfe",
    b"\xc3\x28",
    b"\x1b]0;pwned\x07",
    b"\x1b[2J",
    b"\x85",
    b"[/bold]",
    b"[red]",
    b"%ASA-",
    b":",
]


def seeds() -> list[bytes]:
    """Every line hamon's fixtures hold, and the sample capture's."""
    out: list[bytes] = []
    for folder in ("framing", "messages", "bad"):
        for p in sorted((ROOT / "tests" / "fixtures" / folder).glob("*.raw")):
            out += [line for line in p.read_bytes().split(b"\n") if line and len(line) < 100_000]
    out += (ROOT / "examples" / "asa-pair.log").read_bytes().split(b"\n")[:200]
    return [line for line in out if line]


def mutate(rng: random.Random, line: bytes) -> bytes:
    kind = rng.randrange(9)
    b = bytearray(line)
    if kind == 0 and b:  # byte flips
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif kind == 1 and b:  # bit flips
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif kind == 2:  # truncation
        del b[rng.randrange(len(b) + 1) :]
    elif kind == 3:  # an absurd timestamp in place of the first one
        for old in (b"Nov 25 2026 ", b"2026-11-25T"):
            i = bytes(b).find(old)
            if i >= 0:
                b[i : i + len(old) + 8] = rng.choice(STAMPS)
                break
        else:
            b[0:0] = b"<161>" + rng.choice(STAMPS) + b" fwx : "
    elif kind == 4:  # a huge number in place of the first number
        text = bytes(b)
        digits = [i for i, c in enumerate(text) if 48 <= c <= 57]
        if digits:
            i = rng.choice(digits)
            b[i : i + 1] = rng.choice(NUMBERS)
    elif kind == 5:  # NUL, invalid UTF-8, control characters, markup
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(b) + 1)
            b[i:i] = rng.choice(INSERTS)
    elif kind == 6 and rng.random() < 0.01:  # a 1 MB line
        b += b"A" * (1 << 20)
    elif kind == 7:  # a group number out of range
        b = bytearray(bytes(b).replace(b"(Primary)", b"(Primary_group_" + rng.choice(NUMBERS) + b")"))
    return bytes(b).replace(b"\n", b" ")


def lines(n: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    base = seeds()
    for _ in range(n):
        yield mutate(rng, rng.choice(base))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    out = sys.stdout.buffer
    for line in lines(args.lines, args.seed):
        out.write(line + b"\n")


if __name__ == "__main__":
    main()
