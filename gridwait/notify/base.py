"""The notifier contract. A notifier delivers one message to one apprise URL and says how
it went; it never raises for a target that is down or refuses, so a bad target cannot stop
the scheduler. URLs hold credentials (passwords, webhook tokens): only their masked form
is ever shown or logged."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    event: str
    """started, finished, failed, held, late, or test."""
    title: str
    body: str
    job_id: int | None = None


@dataclass(frozen=True)
class Delivery:
    target: str
    """The URL, masked (no password, no token)."""
    ok: bool
    reason: str | None = None
    """Why it failed, in the target's own words where it gave any."""


def mask_url(url: str) -> str:
    """The scheme alone: what is safe to show of a URL no notifier could parse."""
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://****" if sep else "****"


class Notifier(ABC):
    @abstractmethod
    def send(self, url: str, message: Message) -> Delivery:
        """Deliver `message` to the apprise `url`, waiting at most the notifier's timeout.
        A target that fails (an unknown scheme, refused, down, too slow) is a Delivery with
        ok=False and the reason, never an exception. The Delivery names the URL masked."""

    @abstractmethod
    def masked(self, url: str) -> str:
        """`url` with its credentials hidden, for messages and logs."""
