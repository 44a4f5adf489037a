"""Syslog over TCP (RFC 6587) and TLS (RFC 5425), a thread per connection.

Framing is read per message: octet counting (`LEN SP MSG`, the message starts with a digit) or
newline-terminated. Messages are published in batches with a blocking put: each batch is in the
journal before the next read; when the journal is full the reader waits, the socket buffers fill,
and TCP slows the sender down — nothing is dropped. TLS can require client certificates (a peer
is named by its subjectAltName DNS and IP entries and its subject CN, the CN only when the subject
has exactly one); failed handshakes are counted as rejected.

Bounded against hostile peers (syslog-ng's `max-connections()` shape): no frame buffers more than
MAX_MESSAGE bytes, whatever its length field claims (the rest of it is skipped and counted); at most
MAX_CONNECTIONS connections, MAX_PER_PEER of them from one address and MAX_PER_NETWORK from one /24
(IPv4) or /64 (IPv6); when every slot is taken, the connection idle longest (at least MAKE_ROOM_IDLE)
is closed to make room for the new one; a connection that sent no whole message for IDLE_TIMEOUT is
closed (a byte now and then keeps none open); out of file descriptors, the listener backs off and
keeps accepting.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import ipaddress
import logging
import socket
import ssl
import threading
import time
from typing import Any

from hamon.bus import Bus
from hamon.bus.counters import Counters
from hamon.errors import ConfigError
from hamon.model import RawBatch

MAX_MESSAGE = 64 * 1024
MAX_CONNECTIONS = 1024
MAX_PER_PEER = 64
MAX_PER_NETWORK = 256  # from one /24 (IPv4) or /64 (IPv6): one crowd of addresses cannot take every slot
IDLE_TIMEOUT = 300.0  # seconds without a whole message; an ASA sends its own traffic far more often
MAKE_ROOM_IDLE = 10.0  # seconds: when every slot is taken, the connection idle longest (at least this) goes
log = logging.getLogger("hamon.serve")


def tls_context(cert: str, key: str, client_ca: str | None = None) -> ssl.SSLContext:
    """A server-side TLS context; with a client CA, clients must present a certificate it signed."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    for option, path in (("--tls-cert", cert), ("--tls-key", key), ("--tls-client-ca", client_ca)):
        if path is None:
            continue
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise ConfigError(f"{option} {path}: {(exc.strerror or str(exc)).lower()}") from exc
    try:
        ctx.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise ConfigError(f"--tls-cert {cert} / --tls-key {key}: not a certificate and its key ({exc.reason})") from exc
    if client_ca:
        try:
            ctx.load_verify_locations(client_ca)
        except ssl.SSLError as exc:
            raise ConfigError(f"--tls-client-ca {client_ca}: not a PEM certificate ({exc.reason})") from exc
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def peer_identities(conn: ssl.SSLSocket) -> tuple[str, ...]:
    """A TLS client's certificate as the inventory's `tls_peers:` names it: `sha256:<fingerprint>`
    and `CN=<name>` for each subjectAltName DNS name and IP address and for the subject's common
    name (as rsyslog's permitted peers and syslog-ng's trusted names match them)."""
    der = conn.getpeercert(binary_form=True)
    if not der:
        return ()
    return (f"sha256:{hashlib.sha256(der).hexdigest()}", *certificate_names(conn.getpeercert() or {}))


def certificate_names(cert: dict[str, Any]) -> tuple[str, ...]:
    """`CN=` identities of a verified certificate (ssl's getpeercert() dict): its subjectAltName DNS
    and IP entries, and the subject's CN only when it has exactly one — a subject with two
    (`CN=evil, CN=fw-edge`) names no one, so no extra RDN can borrow an allowed name."""
    names = [f"CN={value}" for kind, value in cert.get("subjectAltName", ()) if kind in ("DNS", "IP Address")]
    cns = [value for rdn in cert.get("subject", ()) for key, value in rdn if key == "commonName"]
    if len(cns) == 1:
        names.append(f"CN={cns[0]}")
    return tuple(dict.fromkeys(names))


class StreamFramer:
    """Splits a byte stream into syslog messages (octet counting or newline framing)."""

    def __init__(self) -> None:
        self.buf = b""
        self.oversized = 0
        self.skip = 0  # bytes still to discard of an oversized octet-counted frame

    def feed(self, data: bytes) -> list[bytes]:
        if self.skip:
            cut = min(self.skip, len(data))
            self.skip -= cut
            data = data[cut:]
        self.buf += data
        out: list[bytes] = []
        while self.buf:
            first = self.buf[:1]
            if first.isdigit() and first != b"0":
                space = self.buf.find(b" ", 0, 12)
                if space > 0 and self.buf[:space].isdigit():
                    n = int(self.buf[:space])
                    if n > MAX_MESSAGE:
                        # A frame longer than any syslog message: its first bytes are passed on (and
                        # quarantined as too long), the rest discarded as it arrives.
                        body = self.buf[space + 1 : space + 1 + min(n, MAX_MESSAGE)]
                        if len(body) < min(n, MAX_MESSAGE) and len(self.buf) <= MAX_MESSAGE + 12:
                            break  # wait for the first MAX_MESSAGE bytes
                        out.append(body)
                        taken = len(body)
                        rest = self.buf[space + 1 + taken :]
                        drop = min(n - taken, len(rest))
                        self.skip = n - taken - drop
                        self.buf = rest[drop:]
                        self.oversized += 1
                        continue
                    if len(self.buf) < space + 1 + n:
                        break  # wait for the rest
                    out.append(self.buf[space + 1 : space + 1 + n].rstrip(b"\r\n"))
                    self.buf = self.buf[space + 1 + n :]
                    continue
            nl = self.buf.find(b"\n")
            if nl < 0:
                if len(self.buf) > MAX_MESSAGE:  # a message this long is passed on, and quarantined
                    out.append(self.buf)
                    self.buf = b""
                    self.oversized += 1
                break
            msg = self.buf[:nl].rstrip(b"\r")
            self.buf = self.buf[nl + 1 :]
            if msg.strip():
                out.append(msg)
        return out

    def rest(self) -> list[bytes]:
        """What is left when the connection closes (a last message without a newline)."""
        tail, self.buf = self.buf.strip(), b""
        return [tail] if tail else []


class TcpSyslog:
    """One TCP (or, with a TLS context, TLS) listener."""

    def __init__(
        self,
        host: str,
        port: int,
        bus: Bus,
        counters: Counters,
        *,
        tls: ssl.SSLContext | None = None,
        receive_buffer: int = 0,
    ) -> None:
        self.bus = bus
        self.counters = counters
        self.tls = tls
        self.transport = "tls" if tls else "tcp"
        self.idle_timeout = IDLE_TIMEOUT
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if receive_buffer:  # set before listen(): accepted connections inherit it (no autotuning)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        # What one connection's kernel may hold unread (Linux reports twice what was asked, its
        # bookkeeping included: an upper bound on the data); None: autotuned.
        self.receive_buffer = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) if receive_buffer else None
        self.sock.bind((host, port))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.address = self.sock.getsockname()[:2]
        self._stop = threading.Event()
        self.max_connections = MAX_CONNECTIONS
        self._per_peer: dict[str, int] = {}
        self._per_network: dict[str, int] = {}
        self._open: dict[int, _Conn] = {}  # every connection being served, by id
        self._peers_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._run, name=f"syslog-{self.transport} {self.address}", daemon=True)

    def start(self) -> None:
        self._accept.start()

    def stop(self) -> None:
        """Stop accepting, let open connections finish what they sent."""
        self._stop.set()
        if self._accept.ident is not None:  # closed before it started: nothing to wait for
            self._accept.join(timeout=5)
        self.sock.close()
        for t in list(self._threads):
            t.join(timeout=2)

    def _run(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            try:
                conn, addr = self.sock.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # Out of descriptors: the connection waits in the backlog; try again shortly.
                    self.counters.reject(self.transport, "*", "out of file descriptors")
                    if backoff == 0.0:
                        log.error(
                            "%s %s:%s: out of file descriptors, accepting again shortly", self.transport, *self.address
                        )
                    backoff = min(max(backoff * 2, 0.05), 1.0)
                    self._stop.wait(backoff)
                    continue
                if self._stop.is_set() or exc.errno == errno.EBADF:
                    return
                self.counters.reject(self.transport, "*", f"accept: {exc.strerror or exc}")
                continue
            backoff = 0.0
            source = addr[0]
            why = self._admit(conn, source)
            if why is not None:
                self.counters.reject(self.transport, source, why)
                conn.close()
                continue
            t = threading.Thread(target=self._serve, args=(conn, source), daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()

    def _admit(self, conn: socket.socket, source: str) -> str | None:
        """Take a connection (None) or say why not: at most MAX_PER_PEER from an address and
        MAX_PER_NETWORK from its /24 (/64); when every slot is taken, the connection that has sent no
        whole message for longest (MAKE_ROOM_IDLE at least) is closed to make room for it."""
        network = network_of(source)
        with self._peers_lock:
            if self._per_peer.get(source, 0) >= MAX_PER_PEER:
                return "too many connections from this sender"
            if self._per_network.get(network, 0) >= MAX_PER_NETWORK:
                return f"too many connections from {network}"
            if len(self._open) >= self.max_connections:
                now = time.monotonic()
                idle = min(self._open.values(), key=lambda c: c.heard, default=None)
                if idle is None or now - idle.heard < MAKE_ROOM_IDLE:
                    return "too many connections"
                self._forget(idle)
                idle.evict()
                self.counters.reject(self.transport, idle.source, "idle connection closed to make room")
            self._per_peer[source] = self._per_peer.get(source, 0) + 1
            self._per_network[network] = self._per_network.get(network, 0) + 1
            c = _Conn(conn, source, network, time.monotonic())
            self._open[id(conn)] = c
        return None

    def _forget(self, c: _Conn) -> None:
        """Give a connection's places back (under the lock; once)."""
        if self._open.pop(id(c.sock), None) is None:
            return
        for table, key in ((self._per_peer, c.source), (self._per_network, c.network)):
            n = table.get(key, 1) - 1
            if n > 0:
                table[key] = n
            else:
                table.pop(key, None)

    def _serve(self, conn: socket.socket, source: str) -> None:
        framer = StreamFramer()
        peer: tuple[str, ...] = ()
        raw = conn  # the accepted socket (its TLS wrapper replaces `conn`)
        me: _Conn | None = None
        try:
            conn.settimeout(0.5)
            if self.tls is not None:
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                    peer = peer_identities(conn)
                except (ssl.SSLError, OSError) as exc:
                    self.counters.reject(
                        self.transport, source, f"tls handshake: {getattr(exc, 'reason', None) or exc}"
                    )
                    return
            pending: list[bytes] = []
            wire = 0  # bytes read and not yet counted (with the messages they carried)
            with self._peers_lock:
                me = self._open.get(id(raw))
            heard = time.monotonic()
            while True:
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    data = None
                except (OSError, ssl.SSLError):
                    break
                if data == b"":
                    break
                if data:
                    pending += framer.feed(data)
                    wire += len(data)
                if pending:  # a whole message: bytes alone (one every few seconds) keep no connection open
                    heard = time.monotonic()
                    if me is not None:
                        me.heard = heard
                elif time.monotonic() - heard > self.idle_timeout:
                    self.counters.reject(self.transport, source, "idle connection closed")
                    break
                if me is not None and me.evicted:
                    break
                if pending:  # one read's messages at once: under load a read holds many
                    self._publish(source, pending, peer, wire)
                    pending, wire = [], 0
                elif wire >= 1 << 16:  # bytes with no whole message (junk, a long frame): counted as read
                    self.counters.receive(self.transport, source, 0, wire)
                    wire = 0
                if data is None and self._stop.is_set():
                    break
            pending += framer.rest()
            if pending:
                self._publish(source, pending, peer, wire)
            elif wire:
                self.counters.receive(self.transport, source, 0, wire)
        finally:
            if framer.oversized:
                self.counters.reject(self.transport, source, "oversized frame", framer.oversized)
            conn.close()
            with self._peers_lock:
                if me is not None:
                    self._forget(me)

    def _publish(self, source: str, messages: list[bytes], peer: tuple[str, ...] = (), wire: int = 0) -> None:
        """`wire`: the bytes read from the connection since the last count (framing included)."""
        self.counters.receive(self.transport, source, len(messages), wire)
        batch = RawBatch(
            b"\n".join(m.replace(b"\n", b" ") for m in messages) + b"\n",
            dt.datetime.now(dt.UTC),
            source,
            self.transport,
            f"syslog-{self.transport}",
            f"{self.transport}:{source}",
            peer,
        )
        self.bus.publish(batch, block=True)  # a full bus slows the sender down


def network_of(address: str) -> str:
    """The /24 (IPv4) or /64 (IPv6) an address is counted in."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    bits = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


class _Conn:
    """A connection being served: its sender, and when it last sent a whole message."""

    __slots__ = ("evicted", "heard", "network", "sock", "source")

    def __init__(self, sock: socket.socket, source: str, network: str, heard: float) -> None:
        self.sock, self.source, self.network, self.heard = sock, source, network, heard
        self.evicted = False

    def evict(self) -> None:
        """Closed to make room: its reader stops at its next read."""
        self.evicted = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
