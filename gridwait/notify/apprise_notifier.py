"""The real notifier: apprise, one URL at a time, so that each target's outcome is known."""

from __future__ import annotations

import logging
from typing import Any

from gridwait.notify.base import Delivery, Message, Notifier, mask_url

_REASON_FORMAT = "%(message)s"
_LONG = 12
"""A path segment this long is taken for a token (a generic webhook's /hooks/<secret>)."""


def _private(plugin: Any) -> str:
    """apprise's privacy form of a URL (passwords and the tokens it knows of hidden), its
    query (only apprise's defaults) dropped, and any long path segment it left shown cut
    to its ends, as apprise cuts tokens: json://host/hooks/a1b2c3d4e5f6g7 -> .../a...7."""
    shown = str(plugin.url(privacy=True)).split("?", 1)[0]
    scheme, _, rest = shown.partition("://")
    host, slash, path = rest.partition("/")
    parts = [
        f"{part[0]}...{part[-1]}" if len(part) >= _LONG and "..." not in part else part
        for part in path.split("/")
    ]
    return f"{scheme}://{host}{slash}{'/'.join(parts)}"


class AppriseNotifier(Notifier):
    def __init__(self, timeout_s: float) -> None:
        """`timeout_s`: connect and read timeout of each delivery, in real seconds."""
        self.timeout_s = timeout_s
        # apprise's warnings are read back from its logger into each Delivery's reason and
        # logged once by the caller, with the job and the masked target; passed on to the
        # root logger too they would say it twice, without saying which job
        logging.getLogger("apprise").propagate = False

    def _plugin(self, url: str) -> Any:
        import apprise  # 0.14 s to import: only the service and `notify test` pay for it

        return apprise.Apprise.instantiate(url, suppress_exceptions=True)

    def known(self, url: str) -> bool:
        """Whether apprise can parse the URL (a scheme it knows, the parts it needs)."""
        return self._plugin(url) is not None

    def masked(self, url: str) -> str:
        plugin = self._plugin(url)
        if plugin is None:
            return mask_url(url)
        return _private(plugin)

    def send(self, url: str, message: Message) -> Delivery:
        import apprise

        plugin = self._plugin(url)
        if plugin is None:
            return Delivery(mask_url(url), False, "not a URL apprise knows (see its wiki)")
        target = _private(plugin)
        plugin.socket_connect_timeout = plugin.socket_read_timeout = self.timeout_s
        # WARNING and above only: apprise's DEBUG lines carry the payload and full URLs
        capture = apprise.LogCapture(level=logging.WARNING, fmt=_REASON_FORMAT)  # type: ignore[no-untyped-call]
        with capture as said:
            try:
                ok = bool(plugin.notify(body=message.body, title=message.title))
            except Exception as exc:  # noqa: BLE001  a plugin's own bug must not stop us
                return Delivery(target, False, f"{type(exc).__name__} in apprise's plugin")
        if ok:
            return Delivery(target, True)
        lines = [line.strip() for line in said.getvalue().splitlines() if line.strip()]
        return Delivery(target, False, lines[-1] if lines else "apprise gave no reason")
