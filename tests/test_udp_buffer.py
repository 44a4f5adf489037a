"""The UDP listener's kernel receive buffer: asked for past net.core.rmem_max where the process may
(SO_RCVBUFFORCE, which Python 3.11 does not name), what was granted reported, a shortfall logged."""

from __future__ import annotations

import logging
import os
import socket
import sys
from pathlib import Path

import pytest

from hamon.collectors.syslog_udp import RCVBUF, set_receive_buffer


def may_force() -> bool:
    """CAP_NET_ADMIN (bit 12) in the effective capabilities: SO_RCVBUFFORCE is allowed."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> 12 & 1)
    return False


def rmem_max() -> int:
    return int(Path("/proc/sys/net/core/rmem_max").read_text())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux socket options")
def test_the_granted_buffer_is_what_the_kernel_reports(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, caplog.at_level(logging.WARNING):
        usable = set_receive_buffer(s, RCVBUF)
        assert usable == s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2
    if may_force():
        assert usable >= RCVBUF  # past rmem_max, whatever it is
        assert not caplog.records
    else:
        assert usable == min(RCVBUF, rmem_max())
        assert f"asked for {RCVBUF >> 10} KiB" in caplog.text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux socket options")
def test_without_privilege_the_capped_buffer_is_reported_and_logged() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to an unprivileged user")  # then the test above covers it
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child drops root (and with it CAP_NET_ADMIN), then asks for the buffer
        code = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            with os.fdopen(write, "w") as out:
                handler = logging.StreamHandler(out)
                logging.getLogger("hamon.collectors.syslog_udp").addHandler(handler)
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    out.write(f"{set_receive_buffer(s, RCVBUF)}\n")
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as f:
        text = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, text
    lines = text.splitlines()
    assert int(lines[-1]) == min(RCVBUF, rmem_max())
    if rmem_max() < RCVBUF:
        assert lines[0] == (
            f"UDP receive buffer is {rmem_max() >> 10} KiB, asked for {RCVBUF >> 10} KiB: a burst longer than "
            f"it holds is lost (raise net.core.rmem_max, e.g. sysctl -w net.core.rmem_max={RCVBUF}, "
            "or grant CAP_NET_ADMIN)"
        )
