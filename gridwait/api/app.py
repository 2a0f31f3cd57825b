"""The FastAPI application: one `Deps` for every request, the routers, the error
handlers and a limit on request bodies."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gridwait.api import jobs, metrics, problems, review, runs, users, web
from gridwait.app.deps import Deps
from gridwait.version import version


class Health(BaseModel):
    status: str
    version: str


def create_app(deps: Deps) -> FastAPI:
    app = FastAPI(
        responses=problems.documented(),
        title="gridwait",
        version=version(),
        summary="Run fine-tuning jobs when the electricity grid is cleanest.",
        description=(
            "Units are in key names (g, kWh, J, s, W); times are UTC. Every route under"
            " /api needs `Authorization: Bearer <token>` except /api/v1/health. Errors are"
            " RFC 9457 problem+json; `detail` is the line the CLI prints."
        ),
    )
    app.state.deps = deps

    @app.get("/api/v1/health", tags=["service"])
    def health() -> Health:
        """Whether the service answers, and its version (no token needed)."""
        return Health(status="ok", version=version())

    for module in (jobs, review, users, runs, metrics):
        app.include_router(module.router)
    web.install(app)
    problems.install(app)
    app.add_middleware(BodyLimit, limit=deps.settings.api.max_body_bytes)
    return app


class BodyLimit:
    """Refuse request bodies over `limit` bytes with 413 before any route reads them,
    whether the client states a Content-Length or streams chunks."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        stated = dict(scope.get("headers", [])).get(b"content-length")
        if stated is not None and (not stated.isdigit() or int(stated) > self.limit):
            await self._refuse(scope, receive, send)
            return
        body, more = b"", True
        while more:  # bodies are small (a spec is a few hundred bytes): read it whole first
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await self._refuse(scope, receive, send)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problems.problem(413, f"request body over {self.limit} bytes")
        await response(scope, receive, send)
