"""The notifier contract, against a real local json:// target: apprise really POSTs."""

from __future__ import annotations

import time

import pytest

from gridwait.notify.apprise_notifier import AppriseNotifier
from gridwait.notify.base import Message, Notifier
from gridwait.notify.recording import RecordingNotifier
from tests.notify.json_target import JsonTarget

MESSAGE = Message("finished", "gridwait: job 3 'bert' finished", "Energy: 1.500 kWh.", 3)


@pytest.fixture(params=["apprise", "recording"])
def notifier(request: pytest.FixtureRequest) -> Notifier:
    return AppriseNotifier(timeout_s=2) if request.param == "apprise" else RecordingNotifier()


def test_a_delivery_names_its_target_without_the_secret(
    notifier: Notifier, target: JsonTarget
) -> None:
    url = target.url(auth="lab:s3cret-pw@")
    delivery = notifier.send(url, MESSAGE)
    assert delivery.ok and delivery.reason is None
    assert "s3cret-pw" not in delivery.target and delivery.target.startswith("json://")
    assert "s3cret-pw" not in notifier.masked(url)


def test_an_unknown_scheme_is_a_failed_delivery_not_an_exception(notifier: Notifier) -> None:
    if isinstance(notifier, RecordingNotifier):
        notifier = RecordingNotifier(failing=frozenset({"nosuch://token@host"}))
    delivery = notifier.send("nosuch://token@host", MESSAGE)
    assert not delivery.ok and delivery.reason
    assert delivery.target == "nosuch://****"


def test_apprise_posts_the_title_and_body(target: JsonTarget) -> None:
    assert AppriseNotifier(timeout_s=2).send(target.url("/lab"), MESSAGE).ok
    assert target.received == [
        {
            "version": "1.0",
            "title": "gridwait: job 3 'bert' finished",
            "message": "Energy: 1.500 kWh.",
            "attachments": [],
            "type": "info",
        }
    ]
    assert target.paths == ["/lab"]


def test_a_refusing_target_gives_its_reason(target: JsonTarget) -> None:
    target.status = 500
    delivery = AppriseNotifier(timeout_s=2).send(target.url(auth="u:pw9@"), MESSAGE)
    assert not delivery.ok and delivery.reason is not None
    assert "500" in delivery.reason and "pw9" not in delivery.reason


def test_a_target_that_is_down(closed_port: int) -> None:
    delivery = AppriseNotifier(timeout_s=2).send(f"json://127.0.0.1:{closed_port}/x", MESSAGE)
    assert not delivery.ok and delivery.reason is not None
    assert "connection error" in delivery.reason.lower()


def test_a_stalled_target_is_given_up_after_the_timeout(target: JsonTarget) -> None:
    target.stall_s = 10
    began = time.monotonic()
    delivery = AppriseNotifier(timeout_s=0.5).send(target.url(), MESSAGE)
    took = time.monotonic() - began
    assert not delivery.ok and delivery.reason
    assert took < 3, f"waited {took:.1f} s for a 0.5 s timeout"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("json://127.0.0.1:8080/hooks/a1b2c3d4e5f6g7h8", "json://127.0.0.1:8080/hooks/a...8"),
        ("mailtos://alice:app-pw-123@gmail.com", "mailtos://alice:****@gmail.com/"),
        (
            "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#lab",
            "slack://T...2/A...D/T...Q/%23lab/",
        ),
        (
            "matrixs://bot:s3cret@matrix.example.org/#gpus",
            "matrixs://bot:****@matrix.example.org/%23gpus",
        ),
    ],
)
def test_a_target_is_shown_without_its_credentials(url: str, shown: str) -> None:
    assert AppriseNotifier(timeout_s=1).masked(url) == shown
