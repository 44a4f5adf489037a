"""`hamon dashboards export|push|preview`: the Grafana dashboards over the hamon schema."""

from __future__ import annotations

import datetime as dt
import os

import click

from hamon.cli.context import Context
from hamon.cli.events import time_range
from hamon.cli.render import console, emit_json
from hamon.errors import ConfigError, HamonError


@click.group("dashboards")
def dashboards_group() -> None:
    """Grafana dashboards (fleet overview, pair detail, alerts) on the PostgreSQL store."""


@dashboards_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the written files as JSON.")
def export_cmd(directory: str, as_json: bool) -> None:
    """Write every dashboard as DIRECTORY/<uid>.json (for Grafana's file provisioning)."""
    from hamon.views import dashboards

    paths = [str(p) for p in dashboards.export(directory)]
    if as_json:
        emit_json(paths)
    else:
        console().print("\n".join(f"wrote {p}" for p in paths))


@dashboards_group.command("push")
@click.option("--url", required=True, metavar="URL", help="Grafana's URL, e.g. http://grafana:3000.")
@click.option(
    "--token-env",
    default="GRAFANA_TOKEN",
    show_default=True,
    metavar="NAME",
    help="Environment variable holding a Grafana service-account token (never a command-line argument).",
)
@click.option("--folder", default="hamon", show_default=True, help="Grafana folder for the dashboards.")
@click.option("--json", "as_json", is_flag=True, help="Print the pushed uids as JSON.")
def push_cmd(url: str, token_env: str, folder: str, as_json: bool) -> None:
    """Create or update every dashboard in a running Grafana through its API."""
    from hamon.views import dashboards

    token = os.environ.get(token_env)
    if not token:
        raise ConfigError(f"no Grafana token: set {token_env} to a service-account token")
    try:
        uids = dashboards.push(url, token, folder)
    except HamonError:
        raise
    except Exception as exc:  # grafana-client and its HTTP layer raise their own types
        raise ConfigError(f"pushing dashboards to {url} failed: {type(exc).__name__}: {exc}") from exc
    if as_json:
        emit_json(uids)
    else:
        console().print(f"pushed {', '.join(uids)} to {url} (folder {folder})")


@dashboards_group.command("preview")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--pair", metavar="PAIR", help="The pair for the pair-detail dashboard (default: the most recent failover's)."
)
@time_range
@click.option("--json", "as_json", is_flag=True, help="Print the written files as JSON.")
@click.pass_obj
def preview_cmd(
    obj: Context, directory: str, pair: str | None, since: dt.datetime | None, until: dt.datetime | None, as_json: bool
) -> None:
    """Draw every dashboard as DIRECTORY/<uid>.png from its panels' queries (no Grafana needed).

    Needs the PostgreSQL store (the panels' SQL is PostgreSQL's). The time range defaults to the
    store's data: from its first to its last event.
    """
    from hamon.store.outputs import latest_failover_pair
    from hamon.views.dashboard_preview import preview

    store = obj.store()
    first, last = store.event_span()
    if pair is None:
        pair = latest_failover_pair(store)
    if first is None or last is None:
        raise ConfigError("the store has no events to draw")
    start = since or first.replace(tzinfo=first.tzinfo or dt.UTC)
    end = until or (last.replace(tzinfo=last.tzinfo or dt.UTC) + dt.timedelta(minutes=1))
    paths = [str(p) for p in preview(store, directory, start, end, pair or "")]
    if as_json:
        emit_json(paths)
    else:
        console().print("\n".join(f"wrote {p}" for p in paths))


COMMANDS = [dashboards_group]
