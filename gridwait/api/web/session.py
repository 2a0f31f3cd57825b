"""The dashboard's edge plumbing: the session cookie, the CSRF check on every form, and a
route class that turns a missing session into a redirect to sign-in and a refused action
into an error page (a problem+json body for clients that do not ask for HTML).

The checks themselves are the use cases': a session only names the acting user."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

from gridwait.api.auth import DepsDep
from gridwait.api.problems import status_of
from gridwait.api.web.render import render
from gridwait.app.sessions import WebSession, session_of
from gridwait.errors import GridwaitError, PermissionDenied, Unauthenticated

COOKIE = "gridwait_session"
SIGN_IN = "/signin"


class NeedSignIn(Exception):
    """A page asked for without a live session: answered with a redirect to sign-in."""


def set_cookie(request: Request, response: Response, secret: str, expires: datetime) -> None:
    response.set_cookie(
        COOKIE,
        secret,
        expires=expires,
        path="/",
        httponly=True,  # no script of the page can read it
        samesite="strict",  # no other site's page or form sends it
        secure=request.url.scheme == "https",
    )


def clear_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


async def web_session(request: Request, deps: DepsDep) -> WebSession:
    # async for the same reason as api.auth.current_actor: one indexed read
    try:
        return session_of(deps, request.cookies.get(COOKIE))
    except Unauthenticated:
        raise NeedSignIn from None


SessionDep = Annotated[WebSession, Depends(web_session)]


def same_origin(request: Request) -> None:
    """PermissionDenied when the browser says the request comes from another origin, or
    from an opaque one (Origin: null, a sandboxed frame or a data: page of any site): a
    second guard beside SameSite=Strict and the CSRF token, and the only one at sign-in.
    A client that is no browser sends neither header and passes."""
    origin = request.headers.get("origin")
    if origin is not None and (
        origin == "null" or urlsplit(origin).netloc != request.headers.get("host")
    ):
        raise PermissionDenied(f"a form posted from {origin} is refused")
    site = request.headers.get("sec-fetch-site")
    if site in ("cross-site", "same-site"):
        raise PermissionDenied(f"a form posted from a {site} page is refused")


async def checked_form(request: Request, session: SessionDep) -> FormData:
    """The posted form, once its CSRF token matches the session's."""
    same_origin(request)
    form = await request.form()
    token = form.get("csrf")
    if not isinstance(token, str) or not hmac.compare_digest(token, session.csrf):
        raise PermissionDenied("the form's CSRF token is missing or wrong; reload the page")
    return form


FormDep = Annotated[FormData, Depends(checked_form)]


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


class WebRoute(APIRoute):
    """A dashboard route: no session -> 303 to sign-in; a gridwait error -> an HTML error
    page with its status for a browser, the API's problem+json for anything else."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except NeedSignIn:
                return RedirectResponse(SIGN_IN, status_code=HTTPStatus.SEE_OTHER)
            except GridwaitError as exc:
                if request.method != "GET" and not wants_html(request):
                    raise
                return error_page(request, exc)

        return route


def error_page(request: Request, exc: GridwaitError) -> HTMLResponse:
    status = status_of(exc)
    return render(
        request,
        "error.html",
        {"status": int(status), "phrase": status.phrase, "detail": str(exc)},
        status=int(status),
    )
