"""HTTP for providers: a timeout on every request, bounded retries with backoff and jitter
on timeouts, connection errors and 5xx, Retry-After on 429, nothing retried on other 4xx.

Error messages name the provider and the path, never the query string or headers, so a
token can not leak into logs or errors.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from gridwait.errors import (
    ProviderAuthError,
    ProviderDataError,
    ProviderError,
    ProviderNoData,
    ProviderRateLimited,
    ProviderUnavailable,
)

log = logging.getLogger(__name__)
Sleep = Callable[[float], None]


class HttpClient:
    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        timeout_s: float,
        retries: int,
        sleep: Sleep,
        max_retry_after_s: float = 120.0,
        backoff_s: float = 0.5,
        session: requests.Session | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.sleep = sleep
        self.max_retry_after_s = max_retry_after_s
        self.backoff_s = backoff_s
        self.session = session or requests.Session()
        self.rng = rng or random.Random()

    def get_json(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> Any:
        """GET base_url + path and decode JSON, or raise a ProviderError subclass."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        where = f"GET /{path.lstrip('/')}"
        attempt = 0
        while True:
            try:
                response = self.session.get(
                    url, params=params, headers=headers, auth=auth, timeout=self.timeout_s
                )
            except requests.Timeout:
                problem = f"{where}: no answer within {self.timeout_s:g} s"
            except requests.ConnectionError as exc:
                problem = f"{where}: cannot connect ({type(exc).__name__})"
            else:
                status = response.status_code
                if status < 400:
                    return self._decode(response, where)
                if status == 429:
                    wait = self._retry_after(response)
                    if wait is None or wait > self.max_retry_after_s or attempt >= self.retries:
                        shown = "no Retry-After" if wait is None else f"Retry-After {wait:g} s"
                        raise ProviderRateLimited(
                            self.provider, f"{where}: rate limited (429, {shown})"
                        )
                    log.info("%s: %s rate limited, waiting %.1f s", self.provider, where, wait)
                    self.sleep(wait)
                    attempt += 1
                    continue
                if status < 500:
                    raise self._client_error(status, response, where)
                problem = f"{where}: server error {status}{_message(response)}"
            if attempt >= self.retries:
                raise ProviderUnavailable(
                    self.provider, f"{problem} (after {attempt + 1} attempts)"
                )
            delay = self.backoff_s * (2**attempt) * (0.5 + self.rng.random())
            log.info("%s: %s; retrying in %.2f s", self.provider, problem, delay)
            self.sleep(delay)
            attempt += 1

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
