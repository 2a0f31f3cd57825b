"""The lab's dashboard, served by the API process on the same origin: pages rendered on
the server from the use cases' views, charts drawn by plotly.js from figure JSON, the
JavaScript library served from the installed plotly package (no CDN).

Pages and forms need a session (sign in with an API token); the static assets do not."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
ASSETS = "/assets"


@cache
def plotly_js() -> Path:
    """plotly.min.js as the plotly wheel ships it."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


def install(app: FastAPI) -> None:
    from gridwait.api.web import forms, pages

    @app.get(f"{ASSETS}/plotly.min.js", include_in_schema=False)
    def plotly() -> FileResponse:
        return FileResponse(
            plotly_js(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.include_router(pages.router)
    app.include_router(forms.router)
    app.mount(ASSETS, StaticFiles(directory=STATIC), name="assets")
