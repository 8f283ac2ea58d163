"""The ``sportello`` command line."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
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


def serve(
    settings: Settings, host: str, port: int, daemon_kwargs: dict[str, object] | None = None
) -> None:
    from sportello.api.app import create_app
    from sportello.daemon import Daemon

    daemon = Daemon(settings, **(daemon_kwargs or {}))  # type: ignore[arg-type]
    config = uvicorn.Config(
        create_app(daemon),
        host=host,
        port=port,
        log_level="info",
        timeout_graceful_shutdown=5,
        proxy_headers=True,
    )
    server = uvicorn.Server(config)
    handle_exit = server.handle_exit

    def close_streams_then_exit(sig: int, frame: object) -> None:
        # Open event streams would otherwise hold the graceful shutdown to its timeout.
        daemon.live.close()
        handle_exit(sig, frame)  # type: ignore[arg-type]

    server.handle_exit = close_streams_then_exit  # type: ignore[method-assign]
    server.run()


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
) -> None:
    """The daemon on an embedded SQLite file, fed by local emulators of all four platforms."""
    from sportello.demo import run_demo

    run_demo(port=port, data_dir=data_dir, fresh=fresh)


def main() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    app()


if __name__ == "__main__":
    main()
