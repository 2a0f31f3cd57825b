"""How measured runs feed calibration."""

from __future__ import annotations

from gridwait.app.estimates import training_tokens


def test_a_run_with_an_eval_set_is_fitted_on_its_training_equivalent_tokens() -> None:
    """3e9 of its 4e9 FLOPs trained 1,000 tokens; the eval's 1e9 count as the 333 training
    tokens of the same FLOPs, as `estimate` charges an eval set."""
    run = {"tokens_padded": 1000, "flops": 4e9, "eval_flops": 1e9}
    assert training_tokens(run) == 1333
    assert training_tokens({**run, "eval_flops": None}) == 1000
    assert training_tokens({"tokens_padded": 1000, "flops": None}) == 1000
