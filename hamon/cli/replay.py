"""`hamon replay`: ingest syslog captures from files or stdin."""

from __future__ import annotations

import functools
import sys
from collections import Counter
from typing import Any

import click

from hamon.cli.context import Context
from hamon.cli.render import console, emit_json, plain, table
from hamon.cli.timerange import parse_duration
from hamon.parse.timestamps import zone
from hamon.service.replay import Source, Summary, replay

FILES: dict[str, Any] = {"multiple": True, "type": click.Path(dir_okay=False, exists=True), "metavar": "FILE"}


@click.command("replay")
@click.argument("files", nargs=-1, metavar="FILE... | -")
@click.option(
    "--cli",
    "cli_files",
    **FILES,
    help="Saved `show failover` / `… history` / `… state` output to store as polled evidence (needs --pair).",
)
@click.option(
    "--traps",
    "trap_files",
    **FILES,
    help="SNMP traps: a trap capture `serve` kept (traps-*.jsonl) or snmptrapd's log (`snmptrapd -f -Lf FILE`, "
    "its default format; its local times read in --tz). Repeatable; plain or .gz.",
)
@click.option("--pair", metavar="NAME", help="The pair the --cli outputs come from.")
@click.option(
    "--unit",
    type=click.Choice(["primary", "secondary"]),
    help="The unit a --cli history was taken on (when no `show failover` in the files names it).",
)
@click.option("--tz", default="UTC", show_default=True, help="Time zone of timestamps that carry none.")
@click.option("--year", type=click.IntRange(1990, 2100), help="Year of year-less timestamps (default: inferred).")
@click.option("--source", metavar="NAME", help="Sender name for lines that carry no host (default: the file name).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on when stderr is a terminal).")
@click.option("--correlate/--no-correlate", default=True, help="Correlate the pairs the input touched (default: on).")
@click.option(
    "--notify",
    "notify_urls",
    multiple=True,
    envvar="HAMON_NOTIFY",
    metavar="URL",
    help="Send a message when an alert opens and when it resolves (repeatable; apprise URLs such as "
    "slack://…, json://host/path, mailto://…, or alertmanager://host:9093; env HAMON_NOTIFY).",
)
@click.option(
    "--notify-within",
    default="1h",
    show_default=True,
    metavar="DURATION",
    help="Notify only alerts still open at the end of the input that started within this of now "
    "(30m, 1h, 1d): an archive's history does not page anyone.",
)
@click.option(
    "--notify-history",
    is_flag=True,
    help="Notify every opening and resolution the input holds, as if it arrived live (opt-in).",
)
@click.pass_obj
def replay_cmd(
    obj: Context,
    files: tuple[str, ...],
    cli_files: tuple[str, ...],
    trap_files: tuple[str, ...],
    pair: str | None,
    unit: str | None,
    tz: str,
    year: int | None,
    source: str | None,
    as_json: bool,
    progress: bool | None,
    correlate: bool,
    notify_urls: tuple[str, ...],
    notify_within: str,
    notify_history: bool,
) -> None:
    """Parse syslog captures (plain or .gz; '-' for stdin), store every failover event, correlate.

    Lines that are not about failover are counted per sender; bad lines are quarantined with
    the reason. Replaying the same input again changes nothing. With --traps, SNMP traps are
    decoded as `serve` decodes them live (each trap counts as one line; other MIBs' traps as other). With --cli, saved `show failover`
    outputs become polled evidence for --pair (as `hamon parse-cli` reads them).
    """
    if cli_files:
        if not pair:
            raise click.UsageError("--cli needs --pair NAME (the pair the outputs come from)")
        from hamon.service.replay import replay_cli

        result = replay_cli(
            list(cli_files), obj.store(create=True), pair, unit=unit, inventory=obj.inventory(), correlate=correlate
        )
        if as_json:
            emit_json(result)
        else:
            console().print(
                f"{len(cli_files)} file(s) for {pair}: {', '.join(result['commands'])}; "
                f"{result['events']} polled events ({result['stored']} new)"
            )
        if not files and not trap_files:
            return
    elif not files and not trap_files:
        raise click.UsageError("give FILE... (or '-' for stdin), --traps FILE, or --cli FILE with --pair")
    tzinfo = zone(tz)
    within = None if notify_history else parse_duration(notify_within)
    from hamon.collectors.files import TrapFile, open_inputs

    sources: list[Source] = [*open_inputs(list(files), source), *(TrapFile(f, tzinfo) for f in trap_files)]
    store = obj.store(create=True)
    inventory = obj.inventory()
    pipeline = None
    if notify_urls:
        from hamon.notify.pipeline import Pipeline, sender
        from hamon.notify.wording import Wording

        pipeline = Pipeline(store, [sender(u) for u in notify_urls], wording=Wording(obj.inventory()))
    run = functools.partial(
        replay,
        sources,
        store,
        inventory=inventory,
        tz=tzinfo,
        year=year,
        correlate=correlate,
        notify=pipeline,
        notify_within=within,
    )
    show = sys.stderr.isatty() if progress is None else progress
    if show:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        total = sum(s.size or 0 for s in sources) or None
        bar = Progress(
            TextColumn("[bold]replay[/]"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console(stderr=True),
            transient=True,
        )
        with bar:
            task = bar.add_task("replay", total=total)
            summary = run(progress=lambda _src, n: bar.advance(task, n))
    else:
        summary = run()
    if as_json:
        emit_json(summary.to_json())
    else:
        _print_summary(summary)
    failed = summary.notifications["failed"] if summary.notifications else 0
    if failed:
        # The store holds everything; what did not go out is what the exit status says.
        console(stderr=True).print(
            f"{failed} notification(s) not delivered (the replay itself is complete; see the reasons above)"
        )
        sys.exit(EXIT_NOT_NOTIFIED)


SHOWN_PAIRS = 20


def _print_summary(s: Summary) -> None:
    out = console()
    out.print(
        f"[bold]{s.lines:,}[/] lines in {s.elapsed_s:.2f}s ({s.lines_per_s:,.0f} lines/s): "
        f"[bold]{s.events:,}[/] failover events ({s.stored:,} new, {s.duplicates:,} already stored), "
        f"{s.quarantined:,} quarantined, {s.ordinary:,} other ASA, {s.other:,} other syslog, {s.blank:,} blank"
    )
    if s.pairs:
        # A fleet capture names thousands of pairs: the busiest SHOWN_PAIRS here, all in --json.
        busiest = sorted(s.pairs.items(), key=lambda pc: (-pc[1].events, -pc[1].lines, pc[0]))[:SHOWN_PAIRS]
        rows = [(p, f"{c.events:,}", f"{c.lines:,}") for p, c in sorted(busiest)]
        out.print(table(None, ("pair", "events", "lines"), rows))
        if len(s.pairs) > SHOWN_PAIRS:
            out.print(
                f"… and {len(s.pairs) - SHOWN_PAIRS:,} more pairs (the {SHOWN_PAIRS} with the most events are "
                "shown; all in --json, and in hamon sources)"
            )
    if s.failovers or s.alerts_opened:
        out.print(f"correlated: {s.failovers:,} failovers, {s.alerts_opened:,} alerts (hamon failovers, hamon alerts)")
    if s.notifications is not None:
        n = s.notifications
        out.print(
            f"notified: {n['sent']} sent, {n['silenced']} silenced, {n['duplicates']} already sent, "
            f"{n['rate_limited']} rate-limited, {n['failed']} failed"
        )
        for error, times in Counter(n["errors"]).most_common(5):
            out.print(f"  notification failed{f' {times}×' if times > 1 else ''}: {plain(error)}")
    if s.quarantined:
        out.print("see the quarantined lines with: hamon quarantine")


EXIT_NOT_NOTIFIED = 3  # replay stored everything, but some notifications were not delivered

COMMANDS = [replay_cmd]
