"""A notifier that delivers nothing and keeps what it was given: for tests and dry runs."""

from __future__ import annotations

from gridwait.notify.base import Delivery, Message, Notifier, mask_url


class RecordingNotifier(Notifier):
    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        """URLs in `failing` are answered as a target that is down."""
        self.sent: list[tuple[str, Message]] = []
        self.failing = failing

    def masked(self, url: str) -> str:
        return mask_url(url)

    def send(self, url: str, message: Message) -> Delivery:
        if url in self.failing:
            return Delivery(mask_url(url), False, "target down (recording notifier)")
        self.sent.append((url, message))
        return Delivery(mask_url(url), True)
