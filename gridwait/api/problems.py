"""gridwait's errors as HTTP, in one place: a status and an RFC 9457 problem+json body
whose `detail` is the same one line the CLI prints. Never a traceback in a body."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gridwait.config import describe_errors
from gridwait.errors import (
    ConfigError,
    ConflictError,
    EstimateError,
    GridwaitError,
    NotFoundError,
    PermissionDenied,
    ProviderError,
    ProviderNoData,
    SpecError,
    StateError,
    StoreError,
    TraceError,
    Unauthenticated,
    one_line,
)

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"

STATUS: tuple[tuple[type[GridwaitError], HTTPStatus], ...] = (
    (Unauthenticated, HTTPStatus.UNAUTHORIZED),
    (PermissionDenied, HTTPStatus.FORBIDDEN),
    (NotFoundError, HTTPStatus.NOT_FOUND),
    (ProviderNoData, HTTPStatus.NOT_FOUND),  # nothing for this zone or range: asked wrongly
    (ConflictError, HTTPStatus.CONFLICT),
    (StateError, HTTPStatus.CONFLICT),
    (SpecError, HTTPStatus.UNPROCESSABLE_ENTITY),
    (EstimateError, HTTPStatus.UNPROCESSABLE_ENTITY),
    (ConfigError, HTTPStatus.BAD_REQUEST),
    # the service's own trouble, not the caller's: try again later
    (ProviderError, HTTPStatus.SERVICE_UNAVAILABLE),
    (StoreError, HTTPStatus.SERVICE_UNAVAILABLE),
    (TraceError, HTTPStatus.SERVICE_UNAVAILABLE),
)
"""First match wins (subclasses before their bases)."""


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "One line: what the CLI prints."},
        "exit_code": {"type": "integer", "description": "What the CLI exits with."},
    },
}


def documented() -> dict[int | str, dict[str, Any]]:
    """Every error status the API answers with, as OpenAPI responses: a problem body."""
    statuses = {s for _, s in STATUS} | {HTTPStatus.REQUEST_ENTITY_TOO_LARGE}
    return {
        int(s): {
            "description": s.phrase,
            "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}},
        }
        for s in sorted(statuses)
    }


def status_of(exc: GridwaitError) -> HTTPStatus:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return HTTPStatus.SERVICE_UNAVAILABLE


def problem(
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    exit_code: int | None = None,
) -> JSONResponse:
    """A problem body; `exit_code` (an extension member) is what the CLI exits with on the
    same error, so that a remote CLI exits as a local one does."""
    body: dict[str, object] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": one_line(detail),
    }
    if exit_code is not None:
        body["exit_code"] = exit_code
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem."""

    @app.exception_handler(GridwaitError)
    async def _domain(request: Request, exc: GridwaitError) -> JSONResponse:
        status = status_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == HTTPStatus.UNAUTHORIZED else None
        return problem(status, str(exc), headers, exc.exit_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {**e, "loc": tuple(e["loc"][1:]) if e["loc"][:1] == ("body",) else e["loc"]}
            for e in exc.errors()
        ]
        return problem(HTTPStatus.UNPROCESSABLE_ENTITY, describe_errors(errors), exit_code=2)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        # a bug: its traceback goes to the service's log, never to the caller
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return problem(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error; see the service's log")
