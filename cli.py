"""The ``sportello`` command line."""

from __future__ import annotations

import gc
import logging
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import uvicorn

from sportello.cli_users import users_app
from sportello.config.settings import ConfigError, Settings, load_settings

app = typer.Typer(
    help="sportello: one inbox for Messenger, WhatsApp, X and Telegram.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(users_app, name="users")

GC_THRESHOLDS = (50_000, 20, 10)  # young objects between passes; the default is 700
# How long a busy thread (the journal worker) keeps the GIL while the event loop waits for
# it; the default is 5 ms. At 1 ms a webhook's p99 beside a busy worker fell by a quarter
# (docs/benchmarks.md).
SWITCH_INTERVAL_S = 0.001

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML configuration file (default: $SPORTELLO_CONFIG)."),
]


def settings_or_exit(config: Path | None, **overrides: object) -> Settings:
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        typer.echo(f"sportello: {exc}", err=True)
        raise typer.Exit(2) from None


class GracefulServer(uvicorn.Server):
    """Exit 0 after a graceful stop on SIGTERM/SIGINT, as the contract says.

    uvicorn re-raises the captured signal once it has shut down, which would end the
    process with -15; forgetting the captured signals keeps the clean exit.
    """

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Open event streams would otherwise hold the graceful shutdown to its timeout.
        self.on_exit()
        super().handle_exit(sig, frame)
        self._captured_signals.clear()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # The daemon's start-up (migrations, lexicons) left garbage behind: collect it now,
        # not in a first pass under load (a 12-18 ms pause a minute into a benchmark).
        tune_garbage_collector()


def serve(
    settings: Settings, host: str, port: int, daemon_kwargs: dict[str, object] | None = None
) -> None:
    from sportello.api.app import create_app
    from sportello.daemon import Daemon

    daemon = Daemon(settings, **(daemon_kwargs or {}))  # type: ignore[arg-type]
    application = create_app(daemon)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    config = uvicorn.Config(
        application,
        host=host,
        port=port,
        log_level="info",
        timeout_graceful_shutdown=5,
        proxy_headers=True,
    )
    GracefulServer(config, on_exit=daemon.live.close).run()


def tune_garbage_collector() -> None:
    """A server's heap is mostly what start-up built: collect what start-up threw away, keep
    the rest out of the collector's passes, and collect young objects less often. A KPI report
    allocates some 100k tuples; with the default thresholds the collector's passes took a
    third of its time (docs/benchmarks.md).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@app.command()
def run(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default 8000).")] = None,
) -> None:
    """Run the daemon: webhooks, pollers, scheduler, outbox sender, REST API and web inbox."""
    settings = settings_or_exit(config)
    serve(settings, host or settings.server.host, port or settings.server.port)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port of the daemon.")] = 8000,
    data_dir: Annotated[Path, typer.Option(help="Where the demo's SQLite file lives.")] = Path(
        "var"
    ),
    fresh: Annotated[bool, typer.Option(help="Start from an empty demo database.")] = True,
    speed: Annotated[
        float, typer.Option(min=0.1, help="Play the customers' traffic this many times faster.")
    ] = 1.0,
) -> None:
    """The daemon on an embedded SQLite file, fed by local emulators of all four platforms."""
    from sportello.demo import run_demo

    run_demo(port=port, data_dir=data_dir, fresh=fresh, speed=speed)


@app.command()
def report(
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD) or instant.")],
    end: Annotated[str, typer.Option("--to", help="Last day, inclusive (YYYY-MM-DD), or instant.")],
    config: ConfigOption = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
    agent: Annotated[str | None, typer.Option(help="Only conversations assigned to them.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only conversations with this tag.")] = None,
    team: Annotated[str | None, typer.Option(help="Only conversations given to this team.")] = None,
    business_time: Annotated[
        bool, typer.Option("--business-time", help="Count times in business hours only.")
    ] = False,
    output: Annotated[
        str, typer.Option("--format", help="table, csv or json.", case_sensitive=False)
    ] = "table",
    by_agent: Annotated[
        bool, typer.Option("--by-agent", help="A line per agent, and the unassigned.")
    ] = False,
    by_channel: Annotated[bool, typer.Option("--by-channel", help="A line per channel.")] = False,
    by_team: Annotated[
        bool, typer.Option("--by-team", help="A line per team, and the conversations of none.")
    ] = False,
) -> None:
    """The customer-care KPIs of a period (definitions in docs/kpis.md)."""
    from rich.console import Console

    from sportello.api.reports import build_query, report_calendar
    from sportello.inbox.clock import Clock
    from sportello.inbox.db import make_engine, migrate, session_scope
    from sportello.inbox.metrics import (
        compute_agent_kpis,
        compute_channel_kpis,
        compute_kpis,
        compute_team_kpis,
    )
    from sportello.report_output import (
        breakdown_csv,
        print_breakdown,
        print_tables,
        to_csv,
        to_json,
    )

    if output.lower() not in ("table", "csv", "json"):
        raise typer.BadParameter("must be table, csv or json", param_hint="--format")
    if by_agent + by_channel + by_team > 1:
        raise typer.BadParameter(
            "one breakdown at a time", param_hint="--by-agent/--by-channel/--by-team"
        )
    rows: str | None = None  # a breakdown's rows, else the whole report
    compute = compute_kpis
    if by_agent:
        rows, compute = "agents", compute_agent_kpis
    elif by_channel:
        rows, compute = "channels", compute_channel_kpis
    elif by_team:
        rows, compute = "teams", compute_team_kpis
    settings = settings_or_exit(config)
    engine = make_engine(settings.database.url)
    try:
        migrate(engine)
        with session_scope(engine) as session:
            try:
                query = build_query(
                    settings, Clock().now(), start, end,
                    business_time=business_time, channel=channel, agent=agent, tag=tag,
                    team=team, calendar=report_calendar(session, settings),
                )  # fmt: skip
            except ValueError as exc:
                typer.echo(f"sportello: {exc}", err=True)
                raise typer.Exit(2) from None
            figures = compute(session, query)
    finally:
        engine.dispose()
    if output.lower() == "json":
        typer.echo(to_json(figures))
    elif output.lower() == "csv":
        typer.echo(to_csv(figures) if rows is None else breakdown_csv(figures, rows), nl=False)
    elif rows is None:
        print_tables(figures, Console())
    else:
        print_breakdown(figures, rows, Console())


@app.command()
def requeue(
    config: ConfigOption = None,
    state: Annotated[
        str, typer.Option(help="failed or quarantined: which deliveries to parse again.")
    ] = "failed",
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
) -> None:
    """Parse failed or quarantined raw deliveries again (after a fix); a running daemon
    picks them up within a second."""
    from sportello.inbox import journal
    from sportello.inbox.db import make_engine, migrate, session_scope

    settings = settings_or_exit(config)
    engine = make_engine(settings.database.url)
    try:
        migrate(engine)
        with session_scope(engine) as session:
            count = journal.requeue(session, state, channel)
    except ValueError as exc:
        typer.echo(f"sportello: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(f"{count} deliveries requeued")


def _add_subcommands() -> None:
    from sportello.hours_cli import away_app, hours_app

    app.add_typer(hours_app, name="hours")
    app.add_typer(away_app, name="away")


_add_subcommands()


def main() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app()


if __name__ == "__main__":
    main()
