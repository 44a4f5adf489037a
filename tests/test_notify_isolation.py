"""One target's trouble is its own: beside a webhook that accepts and never answers, one that
refuses connections and one that answers 500, a working webhook gets every alert within seconds;
after a restart the target that failed gets what it was due, and the working one nothing twice.
Real HTTP servers and sockets on 127.0.0.1, `hamon serve` with real syslog datagrams."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from typing import Any

from helpers import wait_for
from test_serve import Running


class Webhook:
    """A webhook on 127.0.0.1 answering `status` (changeable), keeping what was posted to it."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.posts: list[dict[str, Any]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if outer.status == 200:
                    outer.posts.append(body)
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def firing(self) -> set[str]:
        return {p["pair"] for p in self.posts if p["status"] == "firing"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Hanging:
    """Accepts connections, reads what comes, never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.accepted = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            self.accepted += 1

    def close(self) -> None:
        self.sock.close()
        for c in self.held:
            c.close()


def test_a_hanging_a_refusing_and_a_failing_target_never_delay_a_working_one(sqlite_url: str) -> None:
    hanging, failing, working = Hanging(), Webhook(status=500), Webhook()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        refusing = s.getsockname()[1]  # closed again: nothing listens there
    targets = [
        f"webhook://127.0.0.1:{hanging.port}/h",
        f"webhook://127.0.0.1:{refusing}/r",
        f"webhook://127.0.0.1:{failing.port}/f",
        f"webhook://127.0.0.1:{working.port}/w",
    ]
    pairs = {f"fw-{i:02d}" for i in range(40)}
    r = Running(sqlite_url, syslog_udp=["127.0.0.1:0"], notify=targets)
    try:
        port = r.port("udp")
        t0 = time.monotonic()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            for p in sorted(pairs):
                u.sendto(f"<161>{p} : %ASA-1-105032: LAN Failover interface is down".encode(), ("127.0.0.1", port))
        assert wait_for(lambda: working.firing() == pairs, timeout=20), f"{len(working.firing())} of 40"
        took = time.monotonic() - t0
        assert took < 10, f"the working target waited {took:.1f} s"
        assert hanging.accepted >= 1, "the hanging target was tried (and left hanging)"
        assert failing.posts == []
    finally:
        r.stop()
    sent_before = len(working.posts)
    failing.status = 200  # it is back; the service restarts
    r = Running(sqlite_url, syslog_udp=["127.0.0.1:0"], notify=targets)
    try:
        assert wait_for(lambda: failing.firing() == pairs, timeout=20), "what was due is resent after the restart"
        time.sleep(1.0)
        assert len(working.posts) == sent_before, "nothing sent twice to the target that had it"
    finally:
        r.stop()
        for x in (hanging, failing, working):
            x.close()
