"""What every settings section shares (gridwait.config builds the one Settings object
from them): no unknown keys, no inf or nan, and the http(s) URL check."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict


def http_url(value: str, example: str = "https://host/path") -> str:
    """`value` if it is an http(s) URL with a host; ValueError saying so otherwise."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL such as {example}")
    return value


class Section(BaseModel):
    # inf and nan are never a setting: pue = inf would make every job infinitely dirty
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
