"""`hamon serve` and `hamon status`."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import click

from hamon.cli.context import Context
from hamon.cli.render import console, emit_json, plain, table
from hamon.resolve.settings import load_mapping

if TYPE_CHECKING:
    from hamon.store.status import ServiceStatus

CONFIG_KEYS = {
    "syslog_udp",
    "tz",
    "external_url",
    "repeat_every",
    "journal_dir",
    "trap_capture",
    "trap_capture_days",
    "journal_max_bytes",
    "journal_sync_every",
    "journal_fsync",
    "bus_bytes",
    "stop_timeout",
    "max_unlisted_senders",
    "tcp_receive_buffer",
    "syslog_tcp",
    "syslog_tls",
    "tls_cert",
    "tls_key",
    "tls_client_ca",
    "metrics",
    "notify",
    "reorder_window",
    "snmp_trap",
    "snmp_community",
    "snmp_users",
    "poll_interval",
    "ssh_secrets",
    "snmp_poll",
    "poll_timeout",
    "bus",
    "topic_prefix",
    "kafka_buffer_bytes",
}
LIST_KEYS = {"syslog_udp", "syslog_tcp", "syslog_tls", "notify", "snmp_trap", "snmp_community"}
DEFAULTS = {"syslog_udp": ["0.0.0.0:5514"], "syslog_tcp": ["0.0.0.0:5514"]}


def load_config(path: str) -> dict[str, Any]:
    """The serve config file: YAML with the option names (underscores) as keys."""
    doc = load_mapping(path, "the serve config", CONFIG_KEYS)
    for k in LIST_KEYS & set(doc):
        if isinstance(doc[k], str):
            doc[k] = [doc[k]]
    return doc


def bus_options(f: Any) -> Any:
    """--bus and --topic-prefix (serve, worker, kafka init)."""
    f = click.option(
        "--topic-prefix",
        envvar="HAMON_TOPIC_PREFIX",
        metavar="NAME",
        help="Kafka topics' prefix: <prefix>.events (default hamon; env HAMON_TOPIC_PREFIX).",
    )(f)
    return click.option(
        "--bus",
        envvar="HAMON_BUS",
        metavar="URL",
        help="memory (default: one process) or kafka://HOST:PORT[,HOST:PORT...] (env HAMON_BUS).",
    )(f)


@click.command("serve")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML file with these options.")
@click.option("--syslog-udp", multiple=True, metavar="HOST:PORT", help="Syslog over UDP (default 0.0.0.0:5514).")
@click.option(
    "--syslog-tcp",
    multiple=True,
    metavar="HOST:PORT",
    help="Syslog over TCP, octet counting or newline framing (default 0.0.0.0:5514).",
)
@click.option("--syslog-tls", multiple=True, metavar="HOST:PORT", help="Syslog over TLS (RFC 5425).")
@click.option("--tls-cert", type=click.Path(dir_okay=False), help="Server certificate (PEM) for --syslog-tls.")
@click.option("--tls-key", type=click.Path(dir_okay=False), help="Server key (PEM) for --syslog-tls.")
@click.option(
    "--tls-client-ca", type=click.Path(dir_okay=False), help="Require client certificates signed by this CA (PEM)."
)
@click.option("--snmp-trap", multiple=True, metavar="HOST:PORT", help="SNMP traps (v2c, v3) on UDP, e.g. 0.0.0.0:1162.")
@click.option(
    "--snmp-community",
    multiple=True,
    metavar="C",
    envvar="HAMON_SNMP_COMMUNITY",
    help="Accepted v2c community (repeatable; env HAMON_SNMP_COMMUNITY).",
)
@click.option(
    "--snmp-user",
    "snmp_users",
    multiple=True,
    metavar="NAME,ENGINE_ID[,AUTH[,PRIV]]",
    help="SNMPv3 user, e.g. asa,0x8000000903…,SHA256,AES; keys from HAMON_SNMP_AUTH_KEY_<NAME> and "
    "HAMON_SNMP_PRIV_KEY_<NAME>.",
)
@click.option("--metrics", metavar="HOST:PORT", help="Serve Prometheus metrics here, e.g. 127.0.0.1:9515.")
@click.option(
    "--notify",
    multiple=True,
    metavar="URL",
    envvar="HAMON_NOTIFY",
    help="Notification URL (repeatable; as for replay).",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(5, 86400),
    help="Seconds between SSH polls of the units listed under `poll:` in the inventory (default 60).",
)
@click.option(
    "--ssh-secrets",
    type=click.Path(dir_okay=False),
    envvar="HAMON_SSH_SECRETS",
    help="YAML file with SSH credentials for polls (else HAMON_SSH_USERNAME, HAMON_SSH_PASSWORD, HAMON_SSH_KEY).",
)
@click.option(
    "--snmp-poll-community",
    envvar="HAMON_SNMP_POLL_COMMUNITY",
    help="Community for cfwHardwareStatusTable polls of the units under `snmp_poll:` (v3: config file).",
)
@click.option(
    "--external-url",
    metavar="URL",
    help="hamon's Grafana (https://grafana.example): notifications link to the pair's dashboard.",
)
@click.option(
    "--tz",
    help="Time zone of device stamps that carry none (default UTC; a pair's inventory tz: goes first).",
)
@click.option(
    "--reorder-window",
    type=click.FloatRange(0, 60),
    help="Seconds events wait for earlier ones (default 0: apply at once, re-run a pair on a late one).",
)
@click.option(
    "--journal-dir",
    type=click.Path(file_okay=False),
    envvar="HAMON_JOURNAL_DIR",
    help="Where accepted messages are journaled before anything else (mode 0700; default beside an "
    "embedded store's file, else $STATE_DIRECTORY or ~/.local/state/hamon/journal).",
)
@bus_options
@click.pass_obj
def serve_cmd(obj: Context, /, config_file: str | None, **options: Any) -> None:
    """Listen for syslog, store and correlate as messages arrive; SIGTERM drains and exits.

    Ports below 1024 (514, 6514) need root or CAP_NET_BIND_SERVICE; the defaults (5514) do not.
    With --bus kafka://HOST:PORT this is a sink: it parses and publishes failover events to
    <prefix>.events (keyed by pair) for `hamon worker` processes to store and correlate.
    """
    import logging

    from hamon.service.serve import Service, serve_config

    logging.basicConfig(level=logging.INFO, format="hamon serve: %(message)s", stream=sys.stderr)

    settings: dict[str, Any] = {}
    if config_file:
        settings.update(load_config(config_file))
    users = options.pop("snmp_users")
    if community := options.pop("snmp_poll_community"):
        settings["snmp_poll"] = {**settings.get("snmp_poll", {}), "community": community}
    for k, v in options.items():
        if v not in (None, ()):
            settings[k] = list(v) if isinstance(v, tuple) else v
    if users:
        settings["snmp_users"] = [
            dict(zip(("name", "engine_id", "auth", "priv"), (p.strip() for p in u.split(",")), strict=False))
            for u in users
        ]
    if settings.get("bus") == "memory":
        settings.pop("bus")
    if not any(settings.get(k) for k in ("syslog_udp", "syslog_tcp", "syslog_tls", "snmp_trap")):
        settings.update(DEFAULTS)
    # The schema is checked when the service starts; a store that is down then does not keep it from
    # listening (what arrives waits in the journal).
    service = Service(
        serve_config(settings, config_file or "serve options"),
        obj.store(migrate=False, create=True),
        obj.inventory_path,
    )
    service.start()
    service.install_signals()
    out = console(stderr=True)
    for listener in service.listeners():
        out.print(f"listening: {listener['transport']} {listener['host']}:{listener['port']}")
    if publishing := service.publishing():
        out.print(f"publishing: {publishing}")
    service.run()
    out.print("stopped")


def listener_text(x: dict[str, Any]) -> str:
    """`udp 0.0.0.0:514 (receive buffer 64 MiB, receive ring 64 MiB, peak 0.2 MiB, 0 dropped)`."""
    text = f"{x['transport']} {x['host']}:{x['port']}"
    if "receive_buffer_bytes" in x:
        size = x["receive_buffer_bytes"]
        text += (
            f" (receive buffer {size / (1 << 20):.0f} MiB" if size >= 1 << 20 else f" (receive buffer {size >> 10} KiB"
        )
        ring = x.get("receive_ring")
        if ring:
            text += (
                f", receive ring {ring['capacity'] / (1 << 20):.0f} MiB, peak {ring['peak'] / (1 << 20):.1f} MiB"
                f", {ring['ring_dropped']:,} dropped"
            )
        text += ")"
    return text


def kafka_text(k: dict[str, Any]) -> str:
    """What a sink publishes or a worker reads, in one line."""
    if "group" in k:  # a worker or a consumer
        parts = ",".join(str(p) for p in k["partitions"]) or "none yet"
        text = f"reading: {k['bus']} topic {k['topic']}, group {k['group']}, partitions {parts}"
        return (
            text
            + f", {k['commits']:,} commits"
            + (f", {k['commit_failures']:,} failed" if k["commit_failures"] else "")
        )
    text = f"publishing: {k['bus']} topic {k['topic']}, {k['delivered']:,} messages delivered"
    if k["pending"]:
        text += f", {k['pending']:,} waiting for the broker ({k['pending_bytes'] / (1 << 20):.1f} MiB)"
    return text + (f", {k['failed']:,} not delivered (dropped)" if k["failed"] else "")


def _size(n: float) -> str:
    """Bytes for a person: 812 B, 64.0 KiB, 3.2 MiB."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def _duration(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def journal_text(j: dict[str, Any]) -> str:
    """One line on the journal: what waits to be stored, and whether input is being refused."""
    held, most = int(j.get("held_bytes", 0)), int(j.get("max_bytes", 0)) or 1
    text = f"journal {plain(str(j.get('directory', '')))}: "
    text += f"{held:,} bytes waiting to be stored ({100 * held / most:.1f} % of {most:,})" if held else "all stored"
    if held and "stored_bytes_per_s" in j:  # the catch-up: how fast, and how long still
        text += f", storing {_size(j['stored_bytes_per_s'])}/s against {_size(j['received_bytes_per_s'])}/s arriving"
        empty = j.get("empty_in_s")
        text += f", empty in about {_duration(empty)}" if empty is not None else ", not shrinking"
    if j.get("read_back"):
        text += f", {int(j['read_back']):,} batches read back from disk"
    if j.get("refused"):
        text += f", {int(j['refused']):,} batches refused while full"
    if j.get("refusing"):
        text += " — [red]full: new datagrams dropped, TCP senders wait[/]"
    return text


def service_rows(rows: Iterable[ServiceStatus], now: dt.datetime) -> list[dict[str, Any]]:
    """The services' status rows as `hamon status` shows them, judged at `now` (read once)."""
    from hamon.model import iso

    return [
        {
            "name": r.name,
            "pid": r.pid,
            "started_at": iso(r.started_at),
            "updated_at": iso(r.updated_at),
            # Running while it writes its status (every status_every s; three missed is stale), and
            # not after a clean stop said so.
            "running": not r.counters.get("stopped")
            and (now - r.updated_at).total_seconds() < 3 * float(r.counters.get("status_every", 5.0)) + 1,
            "last_seen_s": round((now - r.updated_at).total_seconds(), 1),
            "listeners": r.listeners,
            "counters": r.counters,
        }
        for r in rows
    ]


def service_line(s: dict[str, Any]) -> str:
    """A service's first line: its name, pid, whether it runs, since when."""
    if s["running"]:
        state = "[green]running[/]"
    elif s["counters"].get("stopped"):
        state = f"[yellow]stopped[/] at {s['updated_at']} ({s['last_seen_s']:.0f} s ago)"
    else:
        state = f"[red]not running[/] — last seen {s['last_seen_s']:.0f} s ago ({s['updated_at']})"
    return f"[bold]{s['name']}[/] pid {s['pid']}: {state}, since {s['started_at']}"


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def status_cmd(obj: Context, as_json: bool) -> None:
    """The running service's counters (received, parsed, quarantined, dropped per transport and
    sender) and the pairs with open alerts."""
    from hamon.store.status import open_alerts_by_pair, read_status

    store = obj.store()
    open_by_pair = [{"pair": p, "open_alerts": n} for p, n in open_alerts_by_pair(store)]
    services = service_rows(read_status(store), dt.datetime.now(dt.UTC))
    if as_json:
        emit_json({"services": services, "pairs_with_open_alerts": open_by_pair})
        return
    out = console()
    if not services:
        out.print("no service has run against this store (start one: hamon serve)")
    for s in services:
        out.print(service_line(s))
        if stages := s["counters"].get("stages"):
            out.print("  stages: " + " → ".join(stages))
        if s["listeners"]:
            out.print("  listening: " + ", ".join(listener_text(x) for x in s["listeners"]))
        if k := s["counters"].get("kafka"):
            out.print("  " + kafka_text(k))
        if j := s["counters"].get("journal"):
            out.print("  " + journal_text(j))
        c = s["counters"]
        out.print("  " + ", ".join(f"{k} {v:,}" for k, v in c["totals"].items()) + f", bus depth {c['bus_depth']}")
        dropped = {(d["transport"], d["source"]): d["count"] for d in c["dropped"]}
        rates = {(x["transport"], x["source"]): x for x in c.get("rates", [])}
        traffic = []
        for r in c["received"]:
            key = (r["transport"], r["source"])
            rate = rates.get(key, {})
            traffic.append(
                (
                    r["transport"],
                    r["source"],
                    r["count"],
                    _size(r["bytes"]) if "bytes" in r else "",
                    f"{rate['lines_per_s']:,.1f}" if "lines_per_s" in rate else "",
                    f"{_size(rate['bytes_per_s'])}/s" if "bytes_per_s" in rate else "",
                    dropped.get(key, 0),
                )
            )
        columns = ("transport", "source", "received", "bytes", "lines/s", "bytes/s", "dropped")
        out.print(table(None, columns, traffic, extra=("bytes", "lines/s", "bytes/s")))
        for r in c["rejected"]:
            out.print(f"  rejected {r['count']:,} from {plain(r['source'])} ({r['transport']}): {plain(r['reason'])}")
        polls = [
            (
                p["pair"],
                p["host"],
                p["polled_at"],
                "ok" if p.get("ok") else f"failed: {p.get('error')}",
                _poll_roles(p),
            )
            for p in c.get("polls", [])
        ]
        if polls:
            out.print(table("Last polls", ("pair", "unit address", "polled at", "result", "roles seen"), polls))
    if open_by_pair:
        out.print(
            table(
                "Pairs with open alerts", ("pair", "open alerts"), [(p["pair"], p["open_alerts"]) for p in open_by_pair]
            )
        )


def _poll_roles(poll: dict[str, Any]) -> str:
    """What a poll said of each unit's role, in one cell."""
    if "failover" in poll:
        return ", ".join(
            f"{h['unit']}{' g' + str(h['group']) if h['group'] else ''} {h['state']}" for h in poll["failover"]["hosts"]
        )
    if "hardware" in poll:
        return ", ".join(f"{u} {r}" for u, r in sorted(poll["hardware"]["roles"].items()))
    return ""


COMMANDS = [serve_cmd, status_cmd]
