"""How many parameters a LoRA fine-tune trains: the model built on torch's `meta` device
(no weights, no memory) and wrapped by PEFT exactly as the worker wraps it, so the count
is PEFT's own, not a formula that could drift from it. It costs a torch, transformers and
peft import (about 6 s here), paid only by LoRA jobs."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from gridwait.errors import EstimateError, first_line
from gridwait.estimators.model_info import meta_model


def lora_config(
    task: str, r: int, alpha: int, dropout: float, targets: tuple[str, ...] | None
) -> Any:
    """PEFT's LoraConfig for a gridwait task (the worker uses the same)."""
    from peft import LoraConfig, TaskType

    return LoraConfig(
        task_type=TaskType.CAUSAL_LM if task == "causal-lm" else TaskType.SEQ_CLS,
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(targets) if targets else None,
    )


@lru_cache(maxsize=32)
def lora_trainable(
    model: str,
    task: str,
    r: int,
    alpha: int,
    dropout: float,
    targets: tuple[str, ...] | None,
    labels: int = 2,
) -> int:
    """Parameters a LoRA fine-tune of `model` trains (adapters and a classifier head).
    EstimateError, naming the setting, when PEFT cannot adapt the model so."""
    try:
        from peft import get_peft_model
    except ImportError:
        raise EstimateError('method = "lora" needs peft (gridwait[worker])') from None
    net, _ = meta_model(model, task, labels)
    try:
        wrapped = get_peft_model(net, lora_config(task, r, alpha, dropout, targets))
    except (ValueError, KeyError, TypeError) as exc:  # unknown family, no matching module
        what = "lora.target_modules" if targets else "method"
        raise EstimateError(
            f"{what}: PEFT cannot apply LoRA to {model} ({task}): {first_line(exc)}"
        ) from None
    return int(sum(p.numel() for p in wrapped.parameters() if p.requires_grad))
