"""HTTP for providers: a total deadline on every request, bounded retries with backoff and
jitter on timeouts, transport errors and 5xx, Retry-After on 429, nothing retried on other
4xx.

The deadline covers a whole `get_json` call: every attempt (connect, headers and body), the
backoff between attempts and any Retry-After wait. No attempt starts, and no wait begins,
that cannot end before it. Each attempt runs under a watchdog (`grid/watchdog.py`) that cuts
the connection when the deadline passes, so a server that drips its headers or its body a
byte at a time cannot hold a request past it. (Connecting is bounded by `timeout_s`, clipped
to the time left.)

Every transport failure ends as a `ProviderError`:

    ProviderError            the URL or a header value cannot be sent (not retried)
    ProviderUnavailable      cannot connect, timeouts, a dropped or garbled answer, TLS,
                             redirect loops, 5xx: after the retries the deadline allows
    ProviderRateLimited      429 with a wait longer than we accept or than the deadline
    ProviderAuthError        401/403
    ProviderNoData           404
    ProviderDataError        a body that is not JSON (or holds NaN / Infinity)

Error messages name the provider and the path, never the query string or headers, so a
token can not leak into logs or errors. Every request says `User-Agent: gridwait/<version>
(+https://github.com/gridwait/gridwait)`.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import urllib3.exceptions

from gridwait.errors import (
    ProviderAuthError,
    ProviderDataError,
    ProviderError,
    ProviderNoData,
    ProviderRateLimited,
    ProviderUnavailable,
)
from gridwait.grid.watchdog import DeadlineAdapter, Watchdog
from gridwait.version import user_agent

log = logging.getLogger(__name__)
Sleep = Callable[[float], None]

# Requests that can never be sent: retrying cannot help, and a fallback would hide a
# configuration mistake. Matched before the retryable transport errors below.
_UNSENDABLE: tuple[type[BaseException], ...] = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.URLRequired,
    requests.exceptions.InvalidHeader,
    urllib3.exceptions.LocationValueError,
    http.client.InvalidURL,
)
# Everything the transport raises (requests wraps most urllib3 and socket errors, not all).
# requests.RequestException is an OSError, so OSError alone would do; the others document.
_TRANSPORT: tuple[type[BaseException], ...] = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


@dataclass(frozen=True)
class HttpPolicy:
    """How long and how often to try one provider request. All times in real seconds."""

    timeout_s: float = 10.0
    """Limit for connecting and for each read (of the headers; the body is under the
    deadline alone)."""
    retries: int = 3
    """Further attempts after the first, on timeouts, transport errors, 5xx and 429."""
    deadline_s: float | None = None
    """Total for one request, attempts, backoff and Retry-After waits included. None:
    `timeout_s` x (retries + 1) plus the longest backoff (`default_deadline_s`)."""
    max_retry_after_s: float = 120.0
    """A 429 asking for a longer wait is not retried."""
    backoff_s: float = 0.5
    """First backoff; it doubles per attempt, with jitter of 0.5x to 1.5x."""

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.retries < 0 or self.backoff_s < 0:
            raise ValueError(f"invalid HTTP policy {self}")
        if self.deadline_s is not None and self.deadline_s <= 0:
            raise ValueError(f"deadline_s must be positive, got {self.deadline_s}")

    @property
    def default_deadline_s(self) -> float:
        longest_backoff = 1.5 * self.backoff_s * (2.0**self.retries - 1)
        return self.timeout_s * (self.retries + 1) + longest_backoff

    @property
    def total_s(self) -> float:
        """The deadline in force."""
        return self.deadline_s if self.deadline_s is not None else self.default_deadline_s

    @property
    def min_attempt_s(self) -> float:
        """Time an attempt needs at least: with less left, none is started."""
        return min(self.timeout_s, 1.0)


@dataclass
class _Request:
    """One `get_json` call: what to send, where it is reported as, and its deadline."""

    url: str
    where: str
    deadline: float  # time.monotonic() value
    send: dict[str, Any] = field(default_factory=dict)

    def left(self) -> float:
        return self.deadline - time.monotonic()


@dataclass
class _Retry:
    """A failed attempt that another may cure."""

    problem: str
    wait: float | None = None  # None: backoff; else what a 429 asked for
    rate_limited: bool = False


class HttpClient:
    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        sleep: Sleep,
        policy: HttpPolicy | None = None,
        session: requests.Session | None = None,
        rng: random.Random | None = None,
        **legacy: Any,
    ) -> None:
        """`legacy`: the fields of `HttpPolicy` as keywords (timeout_s=, retries=, ...),
        the former signature; to be removed once every caller passes `policy`."""
        if legacy and policy is not None:
            raise TypeError("HttpClient: pass either policy or its fields, not both")
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.policy = HttpPolicy(**legacy) if legacy else (policy or HttpPolicy())
        self.sleep = sleep
        self.session = session or requests.Session()
        # Providers ask clients to name themselves; requests' default names only requests.
        self.session.headers["User-Agent"] = user_agent()
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, DeadlineAdapter())
        self.rng = rng or random.Random()

    def get_json(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> Any:
        """GET base_url + path and decode JSON within the policy's deadline, or raise a
        ProviderError subclass (never a requests or socket error)."""
        request = _Request(
            url=f"{self.base_url}/{path.lstrip('/')}",
            where=f"GET /{path.lstrip('/')}",
            deadline=time.monotonic() + self.policy.total_s,
            send={"params": params, "headers": headers, "auth": auth},
        )
        attempt = 1
        while True:
            outcome = self._attempt(request)
            if not isinstance(outcome, _Retry):
                return outcome
            wait = self._wait_before_next(request, outcome, attempt)
            log.info("%s: %s; retrying in %.2f s", self.provider, outcome.problem, wait)
            self.sleep(wait)
            attempt += 1

    def _wait_before_next(self, request: _Request, failed: _Retry, attempts: int) -> float:
        """The wait before attempt `attempts + 1`, or the error that ends the request."""
        wait = failed.wait
        if wait is None:
            wait = self.policy.backoff_s * 2.0 ** (attempts - 1) * (0.5 + self.rng.random())
        error = ProviderRateLimited if failed.rate_limited else ProviderUnavailable
        tried = f"after {attempts} attempt{'s' if attempts > 1 else ''}"
        if attempts > self.policy.retries:
            ending = "" if failed.rate_limited else f" ({tried})"
            raise error(self.provider, failed.problem + ending)
        if wait + self.policy.min_attempt_s > request.left():
            if "deadline" not in failed.problem:
                tried += f"; no time left for another within the {self.policy.total_s:g} s deadline"
            raise error(self.provider, f"{failed.problem} ({tried})")
        return wait

    def _attempt(self, request: _Request) -> Any:
        """The decoded answer, a `_Retry`, or a ProviderError for what retrying can't cure."""
        response = self._fetch(request)
        if isinstance(response, _Retry):
            return response
        status, where = response.status_code, request.where
        if status < 400:
            return self._decode(response, where)
        if status == 429:
            wait = self._retry_after(response)
            shown = "no Retry-After" if wait is None else f"Retry-After {wait:g} s"
            problem = f"{where}: rate limited (429, {shown})"
            if wait is None or wait > self.policy.max_retry_after_s:
                raise ProviderRateLimited(self.provider, problem)
            return _Retry(problem, wait=wait, rate_limited=True)
        if status < 500:
            raise self._client_error(status, response, where)
        return _Retry(f"{where}: server error {status}{_message(response)}")

    def _fetch(self, request: _Request) -> requests.Response | _Retry:
        """One attempt, its answer read in full before the deadline, or why it failed."""
        where, timeout_s = request.where, self.policy.timeout_s
        per_read = max(0.001, min(timeout_s, request.left()))
        response: requests.Response | None = None
        watchdog = Watchdog(request.left())
        try:
            with watchdog:
                response = self.session.get(
                    request.url, timeout=(per_read, per_read), stream=True, **request.send
                )
                _ = response.content  # the whole body, or an error when the watchdog cuts it
            if watchdog.fired:  # cut where the answer may look whole (a body read to close)
                return _Retry(self._deadline_problem(request))
        except _UNSENDABLE as exc:
            raise ProviderError(
                self.provider, f"{where}: cannot send the request ({type(exc).__name__})"
            ) from None
        except requests.TooManyRedirects:
            raise ProviderUnavailable(self.provider, f"{where}: redirect loop") from None
        except _TRANSPORT as exc:
            return _Retry(self._transport_problem(exc, request, response, watchdog, per_read))
        finally:
            if response is not None:
                if watchdog.fired:  # never pool a socket we cut
                    response.raw.close()
                response.close()
        return response

    def _transport_problem(
        self,
        exc: BaseException,
        request: _Request,
        response: requests.Response | None,
        watchdog: Watchdog,
        per_read: float,
    ) -> str:
        where, name = request.where, type(exc).__name__
        if watchdog.fired or (_is_timeout(exc) and per_read < self.policy.timeout_s):
            return self._deadline_problem(request)
        if isinstance(exc, requests.ConnectTimeout):
            return f"{where}: cannot connect within {per_read:g} s"
        if _is_timeout(exc):
            return f"{where}: no answer within {per_read:g} s"
        if isinstance(exc, requests.exceptions.ContentDecodingError):
            return f"{where}: the body cannot be decoded ({name})"
        if response is not None:
            return f"{where}: the answer broke off ({name})"
        if isinstance(exc, requests.exceptions.SSLError):
            return f"{where}: TLS failed ({name})"
        if reason := _protocol_failure(exc):
            return f"{where}: no valid HTTP answer ({reason})"
        return f"{where}: cannot connect ({name})"

    def _deadline_problem(self, request: _Request) -> str:
        return f"{request.where}: no complete answer within the {self.policy.total_s:g} s deadline"

    def _decode(self, response: requests.Response, where: str) -> Any:
        try:
            return json.loads(response.content, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProviderDataError(self.provider, f"{where}: invalid JSON ({exc})") from None

    def _client_error(self, status: int, response: requests.Response, where: str) -> ProviderError:
        text = f"{where}: HTTP {status}{_message(response)}"
        if status in (401, 403):
            return ProviderAuthError(self.provider, text + " - check the credentials")
        if status == 404:
            return ProviderNoData(self.provider, text)
        return ProviderError(self.provider, text)

    @staticmethod
    def _retry_after(response: requests.Response) -> float | None:
        value = response.headers.get("Retry-After")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
            date = parsedate_to_datetime(response.headers.get("Date", value))
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - date).total_seconds())


def _is_timeout(exc: BaseException) -> bool:
    """A timeout, also when requests wraps a body read's timeout as a ConnectionError."""
    timeouts = (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)
    return isinstance(exc, timeouts) or any(isinstance(a, timeouts) for a in exc.args)


def _protocol_failure(exc: BaseException) -> str | None:
    """What broke the exchange before a status line and headers could be read (a
    BadStatusLine for bytes that are not HTTP, RemoteDisconnected, ...), by type only: the
    texts of these errors may hold the URL and its query."""
    for arg in exc.args:
        if isinstance(arg, http.client.HTTPException):
            return type(arg).__name__
        if isinstance(arg, urllib3.exceptions.ProtocolError):
            inner = [a for a in arg.args if isinstance(a, BaseException)]
            return type(inner[0] if inner else arg).__name__
    return None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _message(response: requests.Response) -> str:
    """The provider's own error text from any of the dialects they use, shortened."""
    try:
        body = response.json()
    except ValueError:
        return ""
    text: Any = None
    if isinstance(body, dict):
        text = body.get("message") or body.get("error") or body.get("detail") or body.get("title")
        if isinstance(text, dict):  # UK NESO: {"error": {"code": ..., "message": ...}}
            text = text.get("message") or text.get("code")
    return f": {str(text)[:200]}" if text else ""
