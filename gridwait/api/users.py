"""Accounts over HTTP: who am I, users (admins), tokens (admins, or a member's own)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from gridwait.api.auth import ActorDep, DepsDep
from gridwait.app.actor import Role
from gridwait.app.views import IssuedToken, MeView, UserView

router = APIRouter(prefix="/api/v1", tags=["users"])
UserName = Annotated[str, Path(min_length=1, max_length=64)]


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    role: Literal["admin", "member"] = "member"


class NewToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("default", min_length=1, max_length=64, description="What it is for.")


@router.get("/me")
def me(actor: ActorDep) -> MeView:
    """The user the token belongs to."""
    return MeView(name=actor.name, role=actor.role.value)


@router.get("/users")
def users(deps: DepsDep, actor: ActorDep) -> list[UserView]:
    """Every user and their tokens (never the secrets); a member sees only themself."""
    from gridwait.app.users import list_users

    return list_users(deps, actor)


@router.post("/users", status_code=status.HTTP_201_CREATED)
def add_user(body: NewUser, deps: DepsDep, actor: ActorDep) -> UserView:
    """Add a member or an admin (admins only)."""
    from gridwait.app.users import add_user as add_one

    return add_one(deps, actor, body.name, Role(body.role))


@router.delete("/users/{name}", status_code=status.HTTP_204_NO_CONTENT)
def remove_user(name: UserName, deps: DepsDep, actor: ActorDep) -> None:
    """Remove a user and revoke their tokens (admins only); their jobs stay."""
    from gridwait.app.users import remove_user as remove_one

    remove_one(deps, actor, name)


@router.post("/users/{name}/tokens", status_code=status.HTTP_201_CREATED)
def issue_token(name: UserName, body: NewToken, deps: DepsDep, actor: ActorDep) -> IssuedToken:
    """A new token, shown this once (an admin for anyone, a member for themself)."""
    from gridwait.app.users import issue_token as issue

    return issue(deps, actor, name, body.name)


@router.delete("/users/{name}/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(
    name: UserName,
    token_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    deps: DepsDep,
    actor: ActorDep,
) -> None:
    """Revoke a token (an admin any, a member their own)."""
    from gridwait.app.users import revoke_token as revoke

    revoke(deps, actor, name, token_id)


class NotifyUrl(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # no length limits here: a validation error would echo the URL; the use case checks it
    url: str = Field(
        description="An apprise URL (mailtos://, slack://, matrixs://...); it holds"
        " credentials and is only ever shown masked."
    )


@router.put("/users/{name}/notify")
def set_notify(name: UserName, body: NotifyUrl, deps: DepsDep, actor: ActorDep) -> UserView:
    """Where the user's own notifications go (a member their own, an admin anyone's)."""
    from gridwait.app.users import set_notify_url

    return set_notify_url(deps, actor, name, body.url)


@router.delete("/users/{name}/notify", status_code=status.HTTP_204_NO_CONTENT)
def clear_notify(name: UserName, deps: DepsDep, actor: ActorDep) -> None:
    """Stop the user's own notifications (the lab's URLs still get theirs)."""
    from gridwait.app.users import set_notify_url

    set_notify_url(deps, actor, name, None)
