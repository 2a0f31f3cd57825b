"""A deadline for a whole HTTP exchange: status line, headers and body.

Socket timeouts bound one read, not a request: a server that sends a byte every few seconds
keeps every read alive and the request open for as long as it likes, in the headers as well
as in the body. A `Watchdog` armed around a request shuts the request's socket down when
its time is up, which ends whatever read is blocked on it.

requests does not hand out the socket of a request in flight, so the session gets an
adapter (`DeadlineAdapter`) whose connections report their socket to the watchdog armed in
the current thread just before they wait for the answer.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_armed = threading.local()


class Watchdog:
    """Shuts down the socket of the request made in this thread, inside `with`, once
    `seconds` have passed. After `__exit__` it never touches a socket again: the
    connection may be back in the pool, serving another request."""

    def __init__(self, seconds: float) -> None:
        self._seconds = max(0.0, seconds)
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._done = False
        self.fired = False
        self._timer = threading.Timer(self._seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> Watchdog:
        _armed.watchdog = self
        self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _armed.watchdog = None
        with self._lock:
            self._done = True
            self._sock = None
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self._done:
                return
            self._sock = sock
            if self.fired:  # the time ran out while connecting
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            if self._sock is not None:
                _shut(self._sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the other side
        sock.shutdown(socket.SHUT_RDWR)


def _watch_this(connection: HTTPConnection) -> None:
    watchdog: Watchdog | None = getattr(_armed, "watchdog", None)
    if watchdog is not None and connection.sock is not None:
        watchdog.watch(connection.sock)


class _WatchedHTTPConnection(HTTPConnection):
    def getresponse(self) -> Any:  # urllib3 types it as its own HTTPResponse
        _watch_this(self)
        return super().getresponse()


class _WatchedHTTPSConnection(HTTPSConnection):
    def getresponse(self) -> Any:
        _watch_this(self)
        return super().getresponse()


class _Pool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HttpsPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """An adapter whose connections a `Watchdog` can cut. Proxied requests (through a
    ProxyManager) keep urllib3's own connections and only socket timeouts."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _HttpsPool}
