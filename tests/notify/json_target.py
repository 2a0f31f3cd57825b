"""A real apprise target: a local HTTP server that records what apprise's json:// plugin
POSTs (title, message), answers with a chosen status, or stalls."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import serve_in_thread


class JsonTarget(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.status = 200
        self.stall_s = 0.0
        self.closing = threading.Event()

    def url(self, path: str = "/hook", auth: str = "") -> str:
        """An apprise URL for this server (`auth`: 'user:password@')."""
        return f"json://{auth}127.0.0.1:{self.server_address[1]}{path}"

    def titles(self) -> list[str]:
        return [str(m["title"]) for m in self.received]


class _Handler(BaseHTTPRequestHandler):
    server: JsonTarget

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        if self.server.stall_s and self.server.closing.wait(self.server.stall_s):
            return
        if self.server.status == 200:
            self.server.received.append(body)
            self.server.paths.append(self.path)
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def target() -> Iterator[JsonTarget]:
    yield from serve_in_thread(JsonTarget())


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
