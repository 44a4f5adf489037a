"""A real Apache Kafka broker for the tests (scripts/kafka/broker.sh), and hamon processes around it.

`HAMON_TEST_KAFKA=HOST:PORT` names a running broker (CI starts one); without it a test starts its
own from the jars the script fetches from Maven Central (Java 17 and Maven needed). Without
either the test is skipped with the reason — and fails under CI.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "kafka" / "broker.sh"
ENV = "HAMON_TEST_KAFKA"


def _missing(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"no Kafka broker: CI must run this test ({why})")
    pytest.skip(f"no Kafka broker ({why}; set {ENV}=HOST:PORT or install Java 17 and Maven)")


def free_port_pair() -> int:
    """A port P with P and P+1 free on 127.0.0.1 (the broker and its controller)."""
    for _ in range(200):
        port = random.randrange(20000, 40000)
        try:
            for p in (port, port + 1):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair")


class Broker:
    """A broker this test process started (and may stop, kill and start again)."""

    def __init__(self, directory: Path) -> None:
        if not (shutil.which("java") and (shutil.which("mvn") or _jars_fetched())):
            _missing("java or mvn not installed")
        self.dir = directory
        self.port = free_port_pair()
        self.address = f"127.0.0.1:{self.port}"

    def start(self) -> None:
        r = subprocess.run(
            ["bash", str(SCRIPT), "start", str(self.dir), str(self.port)], capture_output=True, text=True, timeout=180
        )
        if r.returncode != 0:
            _missing(f"the broker did not start: {(r.stderr or r.stdout)[-400:]}")

    def stop(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop", str(self.dir)], capture_output=True, timeout=60)

    def kill(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "kill", str(self.dir)], capture_output=True, timeout=60)


def _jars_fetched() -> bool:
    libs = os.environ.get("HAMON_KAFKA_LIBS")
    return bool(libs and (Path(libs) / ".complete").exists())


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


class Proc:
    """A hamon command as a real process; its output goes to a file the test can read."""

    def __init__(self, tmp: Path, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log = tmp / f"{name}.log"
        self._out = self.log.open("wb")
        self.p = subprocess.Popen(
            [sys.executable, "-m", "hamon", *args],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_line(self, needle: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text():
                return
            if self.p.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.p.returncode}: {self.text()[-2000:]}")
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: no {needle!r} in {timeout} s: {self.text()[-2000:]}")

    def stop(self, timeout: float = 60.0) -> int:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)
        self._out.close()
        return self.p.returncode

    def kill9(self) -> None:
        self.p.kill()
        self.p.wait(10)
        self._out.close()


def hamon_json(db: str, *args: str) -> Any:
    r = subprocess.run(
        [sys.executable, "-m", "hamon", "--db", db, *args, "--json"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)
