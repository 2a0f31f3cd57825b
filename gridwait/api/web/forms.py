"""The dashboard's forms: sign in and out, and every state change, each a POST carrying
the session's CSRF token and answered with a redirect back to its page (Post/Redirect/Get).
The use cases check who may do what; a refusal is a 403 from them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from gridwait.api.auth import DepsDep
from gridwait.api.web.render import render
from gridwait.api.web.session import (
    COOKIE,
    FormDep,
    SessionDep,
    WebRoute,
    clear_cookie,
    same_origin,
    set_cookie,
)
from gridwait.app.actor import Role
from gridwait.errors import ConfigError, Unauthenticated
from gridwait.units import parse_mass_g

router = APIRouter(route_class=WebRoute, include_in_schema=False)
JobId = Annotated[int, Path(ge=1, le=2**63 - 1)]
UserName = Annotated[str, Path(min_length=1, max_length=64)]
TokenId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def back(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)


def field(form: FormData, name: str) -> str:
    """A text field of the form; ConfigError naming it when it is missing or empty."""
    value = form.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name}: missing; fill it in")
    return value.strip()


@router.get("/signin")
def sign_in_page(request: Request) -> HTMLResponse:
    return render(request, "signin.html", {"me": None, "error": None})


@router.post("/signin")
async def sign_in(request: Request, deps: DepsDep) -> Response:
    """Exchange an API token for a session cookie; a bad token gets the form again, 401."""
    from fastapi.concurrency import run_in_threadpool

    from gridwait.app.sessions import sign_in as start

    same_origin(request)  # no session yet, so no CSRF token: the origin is the guard
    form = await request.form()
    token = form.get("token")
    try:
        signed = await run_in_threadpool(start, deps, token if isinstance(token, str) else "")
    except Unauthenticated as exc:
        context = {"me": None, "error": f"sign-in refused: {exc}"}
        return render(request, "signin.html", context, status=401)
    response = back("/now")
    set_cookie(request, response, signed.secret, signed.expires_at)
    return response


@router.post("/signout")
def sign_out(request: Request, deps: DepsDep, form: FormDep) -> Response:
    from gridwait.app.sessions import sign_out as end

    del form  # checked: signing someone out is a state change too
    end(deps, request.cookies.get(COOKIE, ""))
    response = back("/signin")
    clear_cookie(request, response)
    return response


@router.post("/jobs/{job_id}/cancel")
def cancel(job_id: JobId, deps: DepsDep, session: SessionDep, form: FormDep) -> Response:
    from gridwait.app.jobs import cancel as cancel_job

    del form
    cancel_job(deps, session.actor, job_id)
    return back(f"/jobs/{job_id}")


@router.post("/budgets")
def set_budget(deps: DepsDep, session: SessionDep, form: FormDep) -> Response:
    from gridwait.app.budgets import set_budget as set_one

    text = field(form, "monthly")
    try:
        grams = parse_mass_g(text)
    except ValueError as exc:
        raise ConfigError(f"monthly: {exc}") from None
    counts = form.get("counts") or "operational"
    set_one(deps, session.actor, field(form, "scope"), field(form, "name"), grams, str(counts))
    return back("/budgets")


@router.post("/budgets/remove")
def remove_budget(deps: DepsDep, session: SessionDep, form: FormDep) -> Response:
    from gridwait.app.budgets import remove_budget as remove_one

    remove_one(deps, session.actor, field(form, "scope"), field(form, "name"))
    return back("/budgets")


@router.post("/users")
def add_user(deps: DepsDep, session: SessionDep, form: FormDep) -> Response:
    from gridwait.app.users import add_user as add_one

    role = field(form, "role")
    if role not in ("admin", "member"):
        raise ConfigError(f"role: expected admin or member, got {role!r}")
    add_one(deps, session.actor, field(form, "name"), Role(role))
    return back("/users")


@router.post("/users/{name}/remove")
def remove_user(name: UserName, deps: DepsDep, session: SessionDep, form: FormDep) -> Response:
    from gridwait.app.users import remove_user as remove_one

    del form
    remove_one(deps, session.actor, name)
    return back("/users")


@router.post("/users/{name}/tokens")
def issue_token(
    request: Request, name: UserName, deps: DepsDep, session: SessionDep, form: FormDep
) -> HTMLResponse:
    """A new token, shown on this answer only (no redirect: it is never shown again).
    The Users page is an admin's: a member is refused before anything is issued."""
    from gridwait.app.users import issue_token as issue
    from gridwait.app.users import manage_users

    manage_users(deps, session.actor)
    issued = issue(deps, session.actor, name, field(form, "token_name"))
    people = manage_users(deps, session.actor)
    context = {"me": session.actor, "csrf": session.csrf, "people": people, "issued": issued}
    return render(request, "users.html", context, status=201)


@router.post("/users/{name}/tokens/{token_id}/revoke")
def revoke_token(
    name: UserName, token_id: TokenId, deps: DepsDep, session: SessionDep, form: FormDep
) -> Response:
    from gridwait.app.users import revoke_token as revoke

    del form
    revoke(deps, session.actor, name, token_id)
    return back("/users")
