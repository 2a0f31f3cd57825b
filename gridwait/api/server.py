"""uvicorn in a thread beside the scheduler (or alone, in tests): started and stopped by
whoever owns it, with the port it really got (listen on port 0 for a free one)."""

from __future__ import annotations

import logging
import socket
import threading
import time

import uvicorn

from gridwait.app.deps import Deps

log = logging.getLogger(__name__)


class ApiServer:
    def __init__(self, deps: Deps, host: str, port: int) -> None:
        from gridwait.api.app import create_app

        config = uvicorn.Config(
            create_app(deps),
            log_level="warning",
            access_log=False,  # an access log line would carry query strings
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.host, self.port = host, port

    def start(self, timeout_s: float = 10.0) -> None:
        """Bind here (OSError when the address is taken or not ours), then serve in the
        background; return once uvicorn is up."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only for a
        # socket that says it is TCP; without it every answer on a kept-alive connection
        # waits ~40 ms for Nagle and delayed ACKs
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self._socket = sock
        self.port = int(sock.getsockname()[1])
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="gridwait-api", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise OSError(f"the API did not start on {self.url}")
            time.sleep(0.02)
        log.info("API listening on %s (docs at /docs)", self.url)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout_s: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._socket is not None:
            self._socket.close()
