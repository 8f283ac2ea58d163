"""``sportello users``: add users, list them, change passwords, issue personal API tokens."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from sportello.inbox import accounts
from sportello.inbox.clock import Clock
from sportello.inbox.db import make_engine, migrate, session_scope
from sportello.inbox.users import User

users_app = typer.Typer(help="Users of the web inbox and the API.", no_args_is_help=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML configuration file (default: $SPORTELLO_CONFIG)."),
]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
]
Languages = Annotated[str, typer.Option(help="The languages they speak, two-letter codes: it,en.")]
Channels = Annotated[
    str,
    typer.Option(help="Automatic assignment gives them only these channels: whatsapp,messenger."),
]


class Role(StrEnum):
    agent = "agent"
    admin = "admin"


@contextmanager
def _database(config: Path | None) -> Iterator[Session]:
    from sportello.cli import settings_or_exit

    settings = settings_or_exit(config)
    engine = make_engine(settings.database.url)
    try:
        migrate(engine)
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


def _user(session: Session, name: str) -> User:
    user = accounts.find_user(session, name)
    if user is None:
        raise _fail(f"no user {name!r}")
    return user


def _fail(message: str) -> typer.Exit:
    typer.echo(f"sportello: {message}", err=True)
    return typer.Exit(2)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        accounts.check_new_password(password)
    except accounts.AccountError as exc:
        raise _fail(str(exc)) from None
    return password


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The login name.")],
    role: Annotated[Role, typer.Option(help="agent, or admin (may change settings).")] = Role.agent,
    languages: Languages = "",
    channels: Channels = "",
    password_stdin: PasswordStdin = False,
    config: ConfigOption = None,
) -> None:
    """Add a user; asks for the password unless --password-stdin."""
    password = _read_password(password_stdin)
    with _database(config) as session:
        try:
            user = accounts.create_user(session, name, password, role.value, Clock().now())
            accounts.set_languages(session, user, languages.split(","))
            accounts.set_channels(session, user, channels.split(","))
        except accounts.AccountError as exc:
            raise _fail(str(exc)) from None
    typer.echo(f"added {role.value} {name}")


@users_app.command("list")
def list_(config: ConfigOption = None) -> None:
    """Every user with role, creation date, the languages they speak and the channels they
    handle (all: every channel)."""
    with _database(config) as session:
        users = accounts.list_users(session)
    for user in users:
        spoken = ",".join(user.languages or [])
        handled = ",".join(user.channels or []) or "all"
        typer.echo(f"{user.name}\t{user.role}\t{user.created_at:%Y-%m-%d}\t{spoken}\t{handled}")


@users_app.command("speaks")
def speaks(
    name: Annotated[str, typer.Argument(help="The login name.")],
    languages: Annotated[str, typer.Argument(help="Two-letter codes, e.g. it,en ('' for none).")],
    config: ConfigOption = None,
) -> None:
    """Set the languages a user speaks: automatic assignment gives them their customers first."""
    with _database(config) as session:
        user = _user(session, name)
        try:
            accounts.set_languages(session, user, languages.split(","))
        except accounts.AccountError as exc:
            raise _fail(str(exc)) from None
    typer.echo(f"{name} speaks: {', '.join(user.languages) or 'no language set'}")


@users_app.command("handles")
def handles(
    name: Annotated[str, typer.Argument(help="The login name.")],
    channels: Annotated[
        str, typer.Argument(help="e.g. whatsapp,messenger ('' for every channel).")
    ],
    config: ConfigOption = None,
) -> None:
    """Set the channels whose conversations automatic assignment gives a user."""
    with _database(config) as session:
        user = _user(session, name)
        try:
            accounts.set_channels(session, user, channels.split(","))
        except accounts.AccountError as exc:
            raise _fail(str(exc)) from None
    typer.echo(f"{name} handles: {', '.join(user.channels) or 'every channel'}")


@users_app.command("passwd")
def passwd(
    name: Annotated[str, typer.Argument(help="The login name.")],
    password_stdin: PasswordStdin = False,
    config: ConfigOption = None,
) -> None:
    """Set a user's password; the user's web sessions end."""
    password = _read_password(password_stdin)
    with _database(config) as session:
        user = _user(session, name)
        accounts.set_password(session, user, password)
    typer.echo(f"password of {name} changed")


@users_app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="The login name.")],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    config: ConfigOption = None,
) -> None:
    """Issue a personal API token for scripts; it is printed once and stored only hashed."""
    with _database(config) as session:
        user = _user(session, name)
        try:
            secret, _ = accounts.create_api_token(session, user, label, Clock().now())
        except accounts.AccountError as exc:
            raise _fail(str(exc)) from None
    typer.echo(secret)
