from __future__ import annotations

import pytest

from gridwait.errors import StateError
from gridwait.states import FINAL, JobState, allowed, check_transition


def test_final_states_go_nowhere() -> None:
    for state in FINAL:
        for target in JobState:
            assert not allowed(state, target)


def test_every_waiting_state_can_be_cancelled() -> None:
    for state in set(JobState) - FINAL:
        assert allowed(state, JobState.CANCELLED)


@pytest.mark.parametrize(
    ("source", "target"),
    [("queued", "running"), ("queued", "succeeded"), ("held", "running"), ("planned", "suspended")],
)
def test_illegal_moves_raise(source: str, target: str) -> None:
    with pytest.raises(StateError, match=f"job 7 cannot go from {source} to {target}"):
        check_transition(7, source, target)


def test_message_for_final_state() -> None:
    with pytest.raises(StateError, match="already succeeded"):
        check_transition(3, "succeeded", "queued")
