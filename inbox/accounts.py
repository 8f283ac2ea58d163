"""Users, passwords, web sessions and personal API tokens.

Each function works in the caller's database session; nothing here knows HTTP.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update
from sqlmodel import Session, col, delete, select

from sportello.connectors.base import CHANNELS
from sportello.inbox.users import ROLES, ApiToken, User, UserSession

SESSION_TTL = timedelta(days=7)
MIN_PASSWORD = 8
TOKEN_PREFIX = "spt_"
TOKEN_USE_RESOLUTION = timedelta(minutes=1)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_hasher = PasswordHasher()
# Verified when the user does not exist, so a wrong name costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AccountError(ValueError):
    """A request about users that cannot be done; the message says why."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_new_password(password: str) -> None:
    """Refuse passwords too short to be worth hashing (the demo's own user is exempt)."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters long")


def find_user(session: Session, name: str) -> User | None:
    return session.exec(select(User).where(User.name == name)).first()


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.name))))


def create_user(session: Session, name: str, password: str, role: str, now: datetime) -> User:
    if not _NAME.match(name):
        raise AccountError(
            "a user name is 1-64 letters, digits or . _ @ - and starts with a letter or digit"
        )
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if not password:
        raise AccountError("the password must not be empty")
    if find_user(session, name) is not None:
        raise AccountError(f"user {name!r} already exists")
    user = User(name=name, role=role, password_hash=_hasher.hash(password), created_at=now)
    session.add(user)
    session.flush()
    return user


def ensure_user(session: Session, name: str, password: str, role: str, now: datetime) -> User:
    """The user ``name``, created with this password and role if it does not exist yet."""
    return find_user(session, name) or create_user(session, name, password, role, now)


def set_password(session: Session, user: User, password: str) -> None:
    """Change the password and end every web session of the user."""
    if not password:
        raise AccountError("the password must not be empty")
    user.password_hash = _hasher.hash(password)
    session.exec(delete(UserSession).where(col(UserSession.user_id) == user.id))  # type: ignore[call-overload]


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The user if the password is right; rehashes when the argon2 parameters changed."""
    user = find_user(session, name)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def open_session(session: Session, user: User, now: datetime) -> tuple[str, UserSession]:
    """A new web session; returns the cookie value (never stored) and the row."""
    assert user.id is not None
    token = secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=digest(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(24),
        created_at=now,
        expires_at=now + SESSION_TTL,
    )
    session.add(row)
    session.flush()
    return token, row


def session_user(session: Session, token: str, now: datetime) -> tuple[User, UserSession] | None:
    row = session.get(UserSession, digest(token))
    if row is None:
        return None
    if row.expires_at <= now:
        session.delete(row)
        return None
    user = session.get(User, row.user_id)
    return (user, row) if user is not None else None


def close_session(session: Session, token: str) -> None:
    row = session.get(UserSession, digest(token))
    if row is not None:
        session.delete(row)


def set_languages(session: Session, user: User, codes: list[str]) -> None:
    """The languages ``user`` speaks, as two-letter codes (in order, once each)."""
    wanted = [code.strip().lower() for code in codes if code.strip()]
    bad = [code for code in wanted if not _LANGUAGE.match(code)]
    if bad:
        raise AccountError(f"not two-letter language codes: {', '.join(bad)}")
    user.languages = list(dict.fromkeys(wanted))
    session.flush()


def set_channels(session: Session, user: User, channels: list[str]) -> None:
    """The channels whose conversations automatic assignment gives ``user`` (none: all)."""
    wanted = [name.strip().lower() for name in channels if name.strip()]
    bad = [name for name in wanted if name not in CHANNELS]
    if bad:
        raise AccountError(f"not channels: {', '.join(bad)} (one of {', '.join(CHANNELS)})")
    user.channels = [name for name in CHANNELS if name in wanted]
    session.flush()


def mark_seen(session: Session, user_id: int, now: datetime) -> None:
    """The user's inbox is open now (its live stream is connected)."""
    session.execute(update(User).where(col(User.id) == user_id).values(seen_at=now))


def set_available(session: Session, user_id: int, available: bool) -> None:
    """Whether the user takes conversations now (automatic assignment)."""
    session.execute(update(User).where(col(User.id) == user_id).values(available=available))


def create_api_token(
    session: Session, user: User, label: str, now: datetime
) -> tuple[str, ApiToken]:
    """A new personal token; the returned secret is shown once and only its digest is kept."""
    assert user.id is not None
    label = label.strip()
    if not label or len(label) > 100:
        raise AccountError("a token needs a label of 1-100 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        label=label,
        prefix=token[: len(TOKEN_PREFIX) + 6],
        token_hash=digest(token),
        created_at=now,
    )
    session.add(row)
    session.flush()
    return token, row


def token_user(session: Session, token: str, now: datetime) -> User | None:
    """The owner of a personal API token, noting when it was last used."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == digest(token))).first()
    if row is None:
        return None
    if row.last_used_at is None or now - row.last_used_at > TOKEN_USE_RESOLUTION:
        row.last_used_at = now  # not on every request: a write per call would be wasteful
    return session.get(User, row.user_id)


def api_tokens_of(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.exec(select(ApiToken).where(ApiToken.user_id == user.id).order_by(col(ApiToken.id)))
    )


def revoke_api_token(session: Session, user: User, token_id: int) -> bool:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        return False
    session.delete(row)
    return True
