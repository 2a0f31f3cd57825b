"""The total deadline of a provider request and the transport errors it maps, against a raw
TCP server on 127.0.0.1 that misbehaves below HTTP: drips, drops, garbage."""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gridwait.clock import ManualClock
from gridwait.errors import (
    ProviderDataError,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from gridwait.grid.electricitymaps import ElectricityMapsProvider
from gridwait.grid.http import HttpClient, HttpPolicy
from tests.grid.conftest import built_em_forecast_72h, em_time

T0 = datetime(2024, 3, 6, 19, tzinfo=UTC)
TOKEN = "SECRET-TOKEN-42"
Handler = Callable[[socket.socket, threading.Event], None]


class RawServer:
    """Accepts connections on a random port and hands each, its request read, to `handler`
    in a thread of its own. `close()` tells the handlers to stop and waits for them."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/v3"
        self.stop = threading.Event()
        self.connections = 0
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(5)
                request = b""
                while b"\r\n\r\n" not in request:
                    data = conn.recv(4096)
                    if not data:
                        return
                    request += data
                self.handler(conn, self.stop)
            except OSError:
                pass  # the client cut the connection: what the deadline is for

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        for thread in list(self._threads):
            thread.join(timeout=2)


@pytest.fixture
def raw() -> Iterator[Callable[[Handler], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Handler) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(url: str, policy: HttpPolicy, sleep: Callable[[float], None]) -> HttpClient:
    return HttpClient("electricitymaps", url, sleep=sleep, policy=policy, rng=random.Random(1))


def forecast(server: RawServer, policy: HttpPolicy, sleep: Callable[[float], None]) -> Any:
    provider = ElectricityMapsProvider(client(server.url, policy, sleep), TOKEN, ManualClock(T0))
    return provider.forecast("DE", T0, T0 + timedelta(hours=6))


def head(status: str = "200 OK", *lines: str) -> bytes:
    return "\r\n".join(
        [f"HTTP/1.1 {status}", "Content-Type: application/json", *lines, "", ""]
    ).encode()


def answer(body: bytes, status: str = "200 OK", *lines: str) -> Handler:
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(head(status, f"Content-Length: {len(body)}", *lines) + body)

    return handle


def good() -> bytes:
    return json.dumps(built_em_forecast_72h(T0)).encode()


def test_a_body_dripped_a_byte_at_a_time_ends_at_the_deadline(
    raw: Callable[[Handler], RawServer],
) -> None:
    body = good()  # ~5 kB: 25 minutes at this pace

    def drip(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(head("200 OK", f"Content-Length: {len(body)}"))
        for byte in body:
            if stop.wait(0.3):
                return
            conn.sendall(bytes([byte]))

    server = raw(drip)
    sleeps = Sleeps()
    # every read gets a byte long before its 0.5 s timeout: only the deadline can end it
    policy = HttpPolicy(timeout_s=0.5, retries=3, deadline_s=1.0)
    began = time.monotonic()
    with pytest.raises(
        ProviderUnavailable,
        match=r"GET /carbon-intensity/forecast: no complete answer within the 1 s deadline"
        r" \(after 1 attempt\)$",
    ):
        forecast(server, policy, sleeps)
    elapsed = time.monotonic() - began
    assert 0.95 <= elapsed < 1.5, elapsed  # the deadline, plus a margin for a busy CI box
    assert server.connections == 1 and sleeps == []  # no attempt started without time for it


def test_headers_dripped_a_byte_at_a_time_end_at_the_deadline(
    raw: Callable[[Handler], RawServer],
) -> None:
    headers = head("200 OK", *(f"X-Padding-{n}: {'x' * 40}" for n in range(100)))

    def drip(conn: socket.socket, stop: threading.Event) -> None:
        for byte in headers:  # ~5 kB of headers: 25 minutes at this pace
            if stop.wait(0.3):
                return
            conn.sendall(bytes([byte]))

    server = raw(drip)
    sleeps = Sleeps()
    policy = HttpPolicy(timeout_s=0.5, retries=3, deadline_s=1.0)
    began = time.monotonic()
    with pytest.raises(
        ProviderUnavailable,
        match=r"GET /carbon-intensity/forecast: no complete answer within the 1 s deadline"
        r" \(after 1 attempt\)$",
    ):
        forecast(server, policy, sleeps)
    elapsed = time.monotonic() - began
    assert 0.95 <= elapsed < 1.5, elapsed
    assert server.connections == 1 and sleeps == []


def test_a_body_read_to_the_close_and_cut_at_the_deadline_is_not_taken_as_whole(
    raw: Callable[[Handler], RawServer],
) -> None:
    body = good()

    def drip(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(head("200 OK", "Connection: close"))  # no length: the body ends at close
        for byte in body:
            if stop.wait(0.3):
                return
            conn.sendall(bytes([byte]))

    server = raw(drip)
    policy = HttpPolicy(timeout_s=0.5, retries=0, deadline_s=1.0)
    with pytest.raises(ProviderUnavailable, match="no complete answer within the 1 s deadline"):
        forecast(server, policy, Sleeps())


def test_a_connection_reused_from_the_pool_is_still_cut_at_the_deadline(
    raw: Callable[[Handler], RawServer],
) -> None:
    body = good()
    requests_seen = 0

    def fine_then_drip(conn: socket.socket, stop: threading.Event) -> None:
        nonlocal requests_seen
        requests_seen += 1
        conn.sendall(head("200 OK", f"Content-Length: {len(body)}") + body)
        request = b""
        while b"\r\n\r\n" not in request:  # the second request, on the same connection
            data = conn.recv(4096)
            if not data:
                return
            request += data
        requests_seen += 1
        for byte in head("200 OK", f"Content-Length: {len(body)}"):
            if stop.wait(0.3):
                return
            conn.sendall(bytes([byte]))

    server = raw(fine_then_drip)
    policy = HttpPolicy(timeout_s=0.5, retries=0, deadline_s=1.0)
    provider = ElectricityMapsProvider(client(server.url, policy, Sleeps()), TOKEN, ManualClock(T0))
    assert provider.forecast("DE", T0, T0 + timedelta(hours=6))
    began = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="within the 1 s deadline"):
        provider.forecast("DE", T0, T0 + timedelta(hours=6))
    assert time.monotonic() - began < 1.5
    assert server.connections == 1 and requests_seen == 2  # the pooled connection was reused


def test_the_deadline_bounds_backoff_between_retries(raw: Callable[[Handler], RawServer]) -> None:
    server = raw(answer(b'{"error": "down"}', "503 Service Unavailable"))
    policy = HttpPolicy(timeout_s=0.5, retries=20, deadline_s=1.0, backoff_s=0.2)
    began = time.monotonic()
    with pytest.raises(
        ProviderUnavailable,
        match=r"server error 503: down \(after \d attempts; no time left for another within"
        r" the 1 s deadline\)",
    ):
        forecast(server, policy, time.sleep)
    assert time.monotonic() - began < 1.0  # it never slept past the deadline
    assert 2 <= server.connections < 20


def test_a_retry_after_beyond_the_deadline_is_not_waited_for(
    raw: Callable[[Handler], RawServer],
) -> None:
    server = raw(answer(b"{}", "429 Too Many Requests", "Retry-After: 30"))
    sleeps = Sleeps()
    with pytest.raises(ProviderRateLimited, match=r"Retry-After 30 s\) \(after 1 attempt; no time"):
        forecast(server, HttpPolicy(timeout_s=1, retries=3, deadline_s=5), sleeps)
    assert sleeps == [] and server.connections == 1


def _cut_after(first: bytes, *lines: str) -> Handler:
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(head("200 OK", *lines) + first)  # and close the connection mid-body

    return handle


CUT_BODIES = {
    "content-length": _cut_after(good()[:100], f"Content-Length: {len(good())}"),
    "chunked": _cut_after(b"64\r\n" + good()[:100] + b"\r\n", "Transfer-Encoding: chunked"),
    "bad chunk size": _cut_after(b"zz\r\n" + good()[:100], "Transfer-Encoding: chunked"),
    "corrupt gzip": _cut_after(
        b"\x1f\x8bnot gzip at all", "Content-Encoding: gzip", "Content-Length: 17"
    ),
}


@pytest.mark.parametrize("case", sorted(CUT_BODIES))
def test_a_body_cut_or_garbled_mid_way_is_unavailable(
    raw: Callable[[Handler], RawServer], case: str
) -> None:
    server = raw(CUT_BODIES[case])
    sleeps = Sleeps()
    with pytest.raises(
        ProviderUnavailable,
        match=r"forecast: the (answer broke off|body cannot be decoded) \(\w+\) \(after 2 attempts\)$",
    ):
        forecast(server, HttpPolicy(timeout_s=1, retries=1), sleeps)
    assert server.connections == 2 and len(sleeps) == 1


NOT_HTTP = {
    "garbage bytes": b"\x16\x03\x01\x00garbage that is not HTTP at all\r\n\r\n",
    "closed without a word": b"",
    "half a status line": b"HTTP/1.1 2",
}


@pytest.mark.parametrize("case", sorted(NOT_HTTP))
def test_an_answer_that_is_not_http_is_unavailable(
    raw: Callable[[Handler], RawServer], case: str
) -> None:
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(NOT_HTTP[case])

    server = raw(handle)
    http = client(server.url, HttpPolicy(timeout_s=1, retries=0), Sleeps())
    with pytest.raises(
        ProviderUnavailable,
        match=r"^electricitymaps: GET /carbon-intensity/forecast: no valid HTTP answer \(\w+\) \(after 1 attempt\)$",
    ) as info:
        http.get_json("carbon-intensity/forecast", params={"token": TOKEN, "zone": "DE"})
    assert TOKEN not in str(info.value)


def test_a_request_that_cannot_be_sent_is_not_retried_and_keeps_its_secret() -> None:
    sleeps = Sleeps()
    http = client("http://127.0.0.1:9/v3", HttpPolicy(timeout_s=1, retries=3), sleeps)
    with pytest.raises(ProviderError, match=r"cannot send the request \(InvalidHeader\)") as info:
        http.get_json("carbon-intensity/forecast", headers={"auth-token": TOKEN + "\r\nX: y"})
    assert type(info.value) is ProviderError and TOKEN not in str(info.value) and sleeps == []
    with pytest.raises(ProviderError, match=r"cannot send the request \(InvalidURL\)"):
        client("http:///v3", HttpPolicy(), sleeps).get_json("x", params={"token": TOKEN})


def _payload(value: str) -> bytes:
    items = [
        f'{{"carbonIntensity": 300, "datetime": "{em_time(T0 + timedelta(hours=h))}"}}'
        for h in range(6)
    ]
    items[2] = f'{{"carbonIntensity": {value}, "datetime": "{em_time(T0 + timedelta(hours=2))}"}}'
    return f'{{"zone": "DE", "forecast": [{", ".join(items)}]}}'.encode()


IMPOSSIBLE = [
    (
        "1e308",
        r"forecast\[2\].carbonIntensity at 2024-03-06T21:00:00\+00:00: intensity 1e\+308 is not physically possible \(above 5000 gCO2eq/kWh\)",
    ),
    ("5000.5", r"intensity 5000.5 is not physically possible"),
    (
        "1e999",
        r"forecast\[2\].carbonIntensity at 2024-03-06T21:00:00\+00:00: inf is not a finite number",
    ),
    ("NaN", r"invalid JSON \(NaN is not a number"),
    ("-Infinity", r"invalid JSON \(-Infinity is not a number"),
    ('"NaN"', r"expected a number, got 'NaN'"),
]


@pytest.mark.parametrize(("value", "message"), IMPOSSIBLE, ids=[v for v, _ in IMPOSSIBLE])
def test_physically_impossible_intensities_are_refused(
    raw: Callable[[Handler], RawServer], value: str, message: str
) -> None:
    server = raw(answer(_payload(value)))
    with pytest.raises(ProviderDataError, match=f"^electricitymaps: .*{message}"):
        forecast(server, HttpPolicy(timeout_s=1, retries=0), Sleeps())


def test_the_highest_possible_intensity_is_accepted(raw: Callable[[Handler], RawServer]) -> None:
    server = raw(answer(_payload("5000")))
    series = forecast(server, HttpPolicy(timeout_s=1, retries=0), Sleeps())
    assert max(series.values) == 5000
