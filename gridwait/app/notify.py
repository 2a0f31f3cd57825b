"""Notification targets, checked by hand: a test message to the lab's URLs (admins) or to
one user's own URL (that user, or an admin), each target's outcome reported."""

from __future__ import annotations

from gridwait.app.actor import Actor
from gridwait.app.deps import Deps
from gridwait.app.views import DeliveryView
from gridwait.errors import ConfigError
from gridwait.notify.base import Notifier


def send_test(
    deps: Deps, actor: Actor, user: str | None = None, notifier: Notifier | None = None
) -> list[DeliveryView]:
    """Send a test message to every lab URL ([notify] urls), or with `user` to that user's
    own URL; ConfigError when there is none to send to."""
    from gridwait.notify.apprise_notifier import AppriseNotifier
    from gridwait.notify.messages import test_message

    if user is None:
        actor.require_admin("send a test notification to the lab's targets")
        urls = [url.get_secret_value() for url in deps.settings.notify.urls]
        if not urls:
            raise ConfigError(
                "no lab notification URLs: set [notify] urls in the settings"
                " (or --user NAME to test a user's own URL)"
            )
    else:
        from gridwait.store.users import need_user

        actor.require_owner(user, f"send a test notification to {user}")
        with deps.store().read() as session:
            own = need_user(session, user).notify_url
        if own is None:
            raise ConfigError(f"user {user!r} has no notification URL: gridwait user notify")
        urls = [own]
    notifier = notifier or AppriseNotifier(deps.settings.notify.timeout_s)
    message = test_message(deps.clock.now())
    return [DeliveryView.model_validate(notifier.send(url, message)) for url in urls]
