"""Users and their API tokens. Tokens are stored only as their SHA-256."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from gridwait.errors import ConflictError, NotFoundError
from gridwait.store.models import ApiToken, User

LAST_USED_EVERY = timedelta(minutes=1)
"""A token's last-used time is written at most this often: one write per request would
serialise every reader behind the database's write lock."""


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def add_user(session: Session, name: str, role: str, now: datetime) -> User:
    if get_user(session, name) is not None:
        raise ConflictError(f"user {name!r} exists already")
    user = User(name=name, role=role, created_at=now)
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, name: str) -> User | None:
    return session.exec(select(User).where(User.name == name)).first()


def need_user(session: Session, name: str) -> User:
    user = get_user(session, name)
    if user is None:
        raise NotFoundError(f"no user {name!r}")
    return user


def users(session: Session) -> Sequence[User]:
    return session.exec(select(User).order_by(col(User.name))).all()


def all_tokens(session: Session) -> Sequence[ApiToken]:
    return session.exec(select(ApiToken).order_by(col(ApiToken.id))).all()


def remove_user(session: Session, name: str) -> None:
    """The user, and with them their tokens (api_tokens.user_id is ON DELETE CASCADE)."""
    session.delete(need_user(session, name))


def add_token(session: Session, user: User, name: str, secret: str, now: datetime) -> ApiToken:
    assert user.id is not None
    if any(t.name == name for t in tokens_of(session, user)):
        raise ConflictError(f"user {user.name!r} has a token named {name!r} already")
    token = ApiToken(user_id=user.id, name=name, token_hash=token_hash(secret), created_at=now)
    session.add(token)
    session.flush()
    return token


def tokens_of(session: Session, user: User) -> Sequence[ApiToken]:
    return session.exec(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(col(ApiToken.id))
    ).all()


def remove_token(session: Session, user: User, token_id: int) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFoundError(f"user {user.name!r} has no token {token_id}")
    session.delete(token)


@dataclass(frozen=True)
class Holder:
    """Who holds a token, as authentication needs it."""

    name: str
    role: str
    token_id: int
    last_used_at: datetime | None


_HOLDER = (
    "SELECT users.name, users.role, api_tokens.id, api_tokens.last_used_at"
    " FROM api_tokens JOIN users ON users.id = api_tokens.user_id"
    " WHERE api_tokens.token_hash = ?"
)


def holder(session: Session, secret: str) -> Holder | None:
    """The user a token belongs to, or None. Plain SQL: every API request asks this, and
    the ORM's entity loading triples its cost (0.57 ms against 0.21 ms here)."""
    row = session.connection().exec_driver_sql(_HOLDER, (token_hash(secret),)).first()
    if row is None:
        return None
    used = None if row[3] is None else datetime.fromisoformat(row[3]).replace(tzinfo=UTC)
    return Holder(row[0], row[1], int(row[2]), used)


def stale(token: Holder, now: datetime) -> bool:
    """Whether the token's last-used time is old enough to be written again."""
    return token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY


def touch(session: Session, token_id: int, now: datetime) -> None:
    token = session.get(ApiToken, token_id)
    if token is not None:
        token.last_used_at = now
        session.add(token)
