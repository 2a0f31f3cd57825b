"""Accounts: users with a role and their API tokens. Admins manage them; a member may
list and make tokens for themself. `identify` turns a token into the acting user.

A token is 32 random bytes, shown once and stored only as its SHA-256."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from gridwait.app.actor import Actor, Role
from gridwait.app.deps import Deps
from gridwait.app.views import IssuedToken, TokenView, UserView
from gridwait.errors import ConfigError, Unauthenticated

TOKEN_PREFIX = "gw_"
"""Marks a gridwait token in a leaked log or a secret scanner's rules."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def _check_name(what: str, name: str) -> None:
    if not _NAME.match(name):
        raise ConfigError(
            f"{what}: {name!r} is not a name (1-64 letters, digits, '.', '_', '@' or '-',"
            " starting with a letter or digit)"
        )


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def add_user(deps: Deps, actor: Actor, name: str, role: Role) -> UserView:
    from gridwait.store.users import add_user as store_add

    actor.require_admin(f"add user {name}")
    _check_name("user", name)
    with deps.store().write() as session:
        user = store_add(session, name, role.value, deps.clock.now())
        return UserView(name=user.name, role=user.role, created_at=user.created_at, tokens=[])


def _masked(url: str | None) -> str | None:
    from gridwait.notify.base import mask_url

    return None if url is None else mask_url(url)


def list_users(deps: Deps, actor: Actor) -> list[UserView]:
    """Every user with their tokens (an admin), or only oneself (a member)."""
    from gridwait.store.users import all_tokens, users

    with deps.store().read() as session:
        people = [u for u in users(session) if actor.is_admin or u.name == actor.name]
        tokens = all_tokens(session)
    return [
        UserView(
            name=u.name,
            role=u.role,
            created_at=u.created_at,
            tokens=[TokenView.model_validate(t) for t in tokens if t.user_id == u.id],
            notify=_masked(u.notify_url),
        )
        for u in people
    ]


def manage_users(deps: Deps, actor: Actor) -> list[UserView]:
    """Every user and their tokens, for managing them (admins only: the dashboard's Users
    page; a member lists only themself with `list_users`)."""
    actor.require_admin("manage users")
    return list_users(deps, actor)


MAX_URL = 2048


def check_notify_url(url: str) -> None:
    """ConfigError unless apprise knows the URL; the message shows only its scheme."""
    from gridwait.notify.apprise_notifier import AppriseNotifier
    from gridwait.notify.base import mask_url

    if len(url) > MAX_URL or not AppriseNotifier(timeout_s=1).known(url):
        raise ConfigError(
            f"notify URL {mask_url(url)}: not a URL apprise knows (at most {MAX_URL}"
            " characters; schemes: https://github.com/caronc/apprise/wiki)"
        )


def set_notify_url(deps: Deps, actor: Actor, user: str, url: str | None) -> UserView:
    """Set (or, with None, clear) the URL `user`'s own notifications go to: an admin for
    anyone, a member for themself."""
    from gridwait.store.users import need_user, tokens_of

    actor.require_owner(user, f"set the notification URL of {user}")
    if url is not None:
        check_notify_url(url)
    with deps.store().write() as session:
        holder = need_user(session, user)
        holder.notify_url = url
        session.add(holder)
        return UserView(
            name=holder.name,
            role=holder.role,
            created_at=holder.created_at,
            tokens=[TokenView.model_validate(t) for t in tokens_of(session, holder)],
            notify=_masked(url),
        )


def remove_user(deps: Deps, actor: Actor, name: str) -> None:
    """Remove a user and revoke their tokens; their jobs and history stay."""
    from gridwait.store.users import remove_user as store_remove

    actor.require_admin(f"remove user {name}")
    if name == actor.name:
        raise ConfigError(f"user {name}: an admin cannot remove themself")
    with deps.store().write() as session:
        store_remove(session, name)


def issue_token(deps: Deps, actor: Actor, user: str, name: str = "default") -> IssuedToken:
    """A new token for `user` (an admin for anyone, a member for themself)."""
    from gridwait.store.users import add_token, need_user

    actor.require_owner(user, f"make a token for {user}")
    _check_name("token name", name)
    secret = new_secret()
    with deps.store().write() as session:
        holder = need_user(session, user)
        token = add_token(session, holder, name, secret, deps.clock.now())
    assert token.id is not None
    return IssuedToken(id=token.id, user=user, name=name, token=secret, created_at=token.created_at)


def revoke_token(deps: Deps, actor: Actor, user: str, token_id: int) -> None:
    from gridwait.store.users import need_user, remove_token

    actor.require_owner(user, f"revoke a token of {user}")
    with deps.store().write() as session:
        remove_token(session, need_user(session, user), token_id)


@dataclass(frozen=True)
class Identified:
    """Who holds a token, and whether its last-used time is due to be written."""

    actor: Actor
    token_id: int
    stale: bool


def identify(deps: Deps, secret: str | None) -> Identified:
    """The user holding this token; Unauthenticated for none or an unknown one. The
    message never repeats the token. Only reads: the API asks it on its event loop (a WAL
    reader never waits for a writer) and writes `mark_used` off the loop when stale."""
    from gridwait.store.users import holder, stale

    if not secret:
        raise Unauthenticated("no API token: send 'Authorization: Bearer <token>'")
    with deps.store().read() as session:
        found = holder(session, secret)
    if found is None:
        raise Unauthenticated("unknown or revoked API token")
    return Identified(
        Actor(found.name, Role(found.role)), found.token_id, stale(found, deps.clock.now())
    )


def mark_used(deps: Deps, token_id: int) -> None:
    """Write a token's last-used time (at most every `LAST_USED_EVERY`)."""
    from gridwait.store.users import touch

    with deps.store().write() as session:
        touch(session, token_id, deps.clock.now())
