"""The `hamon` command line: thin commands over library functions."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from hamon import __version__
from hamon.cli.context import Context
from hamon.errors import HamonError


class OneLineUsageError(click.UsageError):
    """A usage error shown as one line that points at --help, not a usage block."""

    def show(self, file: Any = None) -> None:
        hint = f" (see '{self.ctx.command_path} --help')" if self.ctx is not None else ""
        click.echo(f"Error: {self.format_message()}{hint}", err=True, file=file)


class HamonGroup(click.Group):
    """Turns hamon's errors into one line and exit status 1; never a traceback."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """`hamon --help` ends with the store commands use here (password masked)."""
        super().format_epilog(ctx, formatter)
        if ctx.parent is not None:
            return
        from hamon.cli.config import load_cli_config
        from hamon.store.db import shown_url

        try:
            path, doc = load_cli_config()
        except HamonError as exc:
            path, doc = None, {}
            formatter.write(f"Config: {exc}\n")
        if os.environ.get("HAMON_DB"):
            url, source = os.environ["HAMON_DB"], "HAMON_DB"
        elif "db" in doc:
            url, source = doc["db"], str(path)
        else:
            url, source = None, "default"
        formatter.write_paragraph()
        formatter.write(f"Store: {shown_url(url)} ({source}; --db overrides)\n")  # one line, not wrapped
        if path is not None:
            formatter.write(f"Config: {path}\n")

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HamonError as exc:
            raise click.ClickException(str(exc)) from exc
        except BrokenPipeError:
            # `hamon events | head`: the reader left; that is not an error.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(0)
        except click.UsageError as exc:
            if isinstance(exc, OneLineUsageError):
                raise
            raise OneLineUsageError(exc.format_message(), exc.ctx) from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if os.environ.get("HAMON_DEBUG"):
                raise
            raise click.ClickException(
                f"internal error: {type(exc).__name__}: {exc} (set HAMON_DEBUG=1 for a traceback)"
            ) from exc


@click.group(cls=HamonGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db",
    envvar="HAMON_DB",
    metavar="URL",
    help="Store URL: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB. "
    "Default: ~/.local/share/hamon/hamon.db (env HAMON_DB).",
)
@click.option(
    "--inventory",
    envvar="HAMON_INVENTORY",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Inventory YAML naming the pairs (env HAMON_INVENTORY).",
)
@click.version_option(__version__, prog_name="hamon")
@click.pass_context
def main(ctx: click.Context, db: str | None, inventory: str | None) -> None:
    """hamon: failover monitoring and event correlation for Cisco ASA pairs.

    Defaults for --db, --inventory, --tz and --external-url may come from a config file:
    $HAMON_CONFIG, ~/.config/hamon/config.yaml or /etc/hamon/config.yaml.
    """
    from hamon.cli.config import default_map, load_cli_config

    try:
        _path, doc = load_cli_config()
    except HamonError as exc:
        raise click.ClickException(str(exc)) from exc
    ctx.default_map = {**default_map(doc), **(ctx.default_map or {})}
    ctx.obj = Context(db_url=db or doc.get("db"), inventory_path=inventory or doc.get("inventory"))
    ctx.call_on_close(ctx.obj.close)


def _register() -> None:
    from hamon.cli import correlation, dashboards, db, events, kafka, polls, replay, serve, silence, views

    for module in (replay, serve, kafka, events, correlation, views, silence, dashboards, db, polls):
        for command in module.COMMANDS:
            main.add_command(command)
            _add_wide(command)


def _add_wide(command: click.Command) -> None:
    """Every command that lists (has --json) takes --wide: cells whole, no truncation or wrapping."""
    from hamon.cli.render import set_wide

    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _add_wide(sub)
    if any(p.name == "as_json" for p in command.params):
        command.params.append(
            click.Option(
                ["--wide"],
                is_flag=True,
                expose_value=False,
                callback=set_wide,
                help="Print every cell whole (no truncation or wrapping, wider than the terminal if need be).",
            )
        )


_register()
