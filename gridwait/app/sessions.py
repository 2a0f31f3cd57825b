"""Dashboard sign-ins: an API token is exchanged for a server-side session whose id lives
in a cookie. Only the id's SHA-256 is stored; each session has its own CSRF token, which
every form it submits must carry."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from gridwait.app.actor import Actor, Role
from gridwait.app.deps import Deps
from gridwait.app.users import identify
from gridwait.errors import Unauthenticated


@dataclass(frozen=True)
class WebSession:
    actor: Actor
    csrf: str
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn(WebSession):
    secret: str
    """The session id for the cookie: shown this once, stored only as its hash."""


def sign_in(deps: Deps, token: str) -> SignedIn:
    """A new session for whoever holds the API token; Unauthenticated for a bad one."""
    from gridwait.store.sessions import add_session
    from gridwait.store.users import need_user, touch

    holder = identify(deps, token.strip())
    actor = holder.actor
    now = deps.clock.now()
    expires = now + timedelta(hours=deps.settings.api.session_hours)
    secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with deps.store().write() as session:
        user = need_user(session, actor.name)
        add_session(session, user, holder.token_id, secret, csrf, now, expires)
        touch(session, holder.token_id, now)  # a sign-in is a use of the token
    return SignedIn(actor, csrf, expires, secret)


def session_of(deps: Deps, secret: str | None) -> WebSession:
    """The live session a cookie names; Unauthenticated when there is none or it expired."""
    from gridwait.store.sessions import signed_in

    if not secret:
        raise Unauthenticated("not signed in")
    with deps.store().read() as session:
        found = signed_in(session, secret, deps.clock.now())
    if found is None:
        raise Unauthenticated("the session is unknown or has expired; sign in again")
    return WebSession(Actor(found.name, Role(found.role)), found.csrf, found.expires_at)


def sign_out(deps: Deps, secret: str) -> None:
    from gridwait.store.sessions import end_session

    with deps.store().write() as session:
        end_session(session, secret)
