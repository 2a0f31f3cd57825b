"""Jinja2 templates shipped in the package, rendered with the dashboard's headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from gridwait.units import format_duration, format_kwh, format_mass, format_time

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")  # autoescapes .html
templates.env.filters.update(
    mass=format_mass, kwh=format_kwh, duration=format_duration, when=format_time
)

HEADERS = {
    # plotly.js adds <style> elements of its own: inline styles, never inline scripts
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
        " img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages show the lab's data to whoever is signed in
}


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status, headers=HEADERS)
