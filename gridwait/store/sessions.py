"""Dashboard sign-ins. A session id is stored only as its SHA-256, like an API token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, delete

from gridwait.store.models import User, WebSession
from gridwait.store.users import token_hash


def add_session(
    session: Session,
    user: User,
    token_id: int,
    secret: str,
    csrf: str,
    now: datetime,
    expires_at: datetime,
) -> WebSession:
    """A new sign-in of `user` with the API token `token_id` (revoking it ends the
    session); sessions that have expired are swept on the way."""
    assert user.id is not None
    session.exec(delete(WebSession).where(col(WebSession.expires_at) <= now))
    row = WebSession(
        user_id=user.id,
        token_id=token_id,
        session_hash=token_hash(secret),
        csrf=csrf,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class Signed:
    """Who a live session belongs to, and its CSRF token."""

    name: str
    role: str
    csrf: str
    expires_at: datetime


_HOLDER = (
    "SELECT users.name, users.role, web_sessions.csrf, web_sessions.expires_at"
    " FROM web_sessions JOIN users ON users.id = web_sessions.user_id"
    " WHERE web_sessions.session_hash = ?"
)


def signed_in(session: Session, secret: str, now: datetime) -> Signed | None:
    """The holder of a session that has not expired, or None. Plain SQL: every page asks."""
    row = session.connection().exec_driver_sql(_HOLDER, (token_hash(secret),)).first()
    if row is None:
        return None
    expires = datetime.fromisoformat(row[3]).replace(tzinfo=UTC)
    if expires <= now:
        return None
    return Signed(row[0], row[1], row[2], expires)


def end_session(session: Session, secret: str) -> None:
    session.exec(delete(WebSession).where(col(WebSession.session_hash) == token_hash(secret)))
