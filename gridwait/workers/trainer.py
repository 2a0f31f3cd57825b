"""The parts the fine-tune's Trainer is built from: the planned batches, the collator, the
token tally, last-epoch metrics, and the stop-on-signal callback.

Imports torch and transformers: import this module only when a fine-tune runs
(`finetune()` does), so that nothing else pays for them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import Trainer, TrainerCallback

from gridwait.estimators.batching import IntArray

IGNORE = -100
"""Label id the loss ignores (padding positions of a causal LM)."""


@dataclass
class TokenTally:
    """Tokens actually fed to the model, padding included."""

    real: int = 0
    padded: int = 0
    examples: int = 0


class Batches:
    """A batch sampler that yields the planned batches, in order."""

    def __init__(self, batches: Sequence[IntArray]) -> None:
        self.batches = [b.tolist() for b in batches]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class Collator:
    """Pads a batch to `width` (or its longest row), with an attention mask and labels."""

    def __init__(self, pad: int, width: int | None, classify: bool) -> None:
        self.pad, self.width, self.classify = pad, width, classify

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        width = self.width or max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            ids[i, :n] = torch.tensor(row["input_ids"], dtype=torch.long)
            mask[i, :n] = 1
        batch: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if self.classify:
            batch["labels"] = torch.tensor([r["label"] for r in rows], dtype=torch.long)
        else:
            batch["labels"] = ids.masked_fill(mask == 0, IGNORE)
        return batch


class LastEpoch:
    """Loss and accuracy over the batches of the last epoch."""

    def __init__(self, from_step: int) -> None:
        self.from_step = from_step
        self.losses: list[float] = []
        self.correct = 0
        self.seen = 0

    def add(self, step: int, loss: float, outputs: Any, inputs: Any, classify: bool) -> None:
        if step < self.from_step:
            return
        self.losses.append(loss)
        if classify:
            predicted = outputs["logits"].argmax(dim=-1)
            self.correct += int((predicted == inputs["labels"]).sum())
            self.seen += int(inputs["labels"].numel())

    def loss(self) -> float | None:
        finite = [x for x in self.losses if math.isfinite(x)]
        return sum(finite) / len(finite) if finite else None

    def accuracy(self) -> float | None:
        return self.correct / self.seen if self.seen else None


@dataclass
class Plan:
    """What the trainer trains on, and what it counts while it does."""

    rows: list[dict[str, Any]]
    """One {"input_ids", "label"} per example: a map-style dataset for the DataLoader."""
    batches: Sequence[IntArray]
    """Row indices of each optimizer step, all epochs, in order (the estimator's plan)."""
    collate: Collator
    classify: bool
    metrics: LastEpoch
    tally: TokenTally = field(default_factory=TokenTally)


class PlannedTrainer(Trainer):
    """transformers' Trainer on exactly the planned batches, counting the tokens trained on."""

    def __init__(self, plan: Plan, **kwargs: Any) -> None:
        self.plan = plan
        super().__init__(train_dataset=plan.rows, data_collator=plan.collate, **kwargs)

    def get_train_dataloader(self) -> Any:
        dataset: Any = self.plan.rows  # a list is a map-style dataset for the DataLoader
        loader: Any = torch.utils.data.DataLoader(
            dataset, batch_sampler=Batches(self.plan.batches), collate_fn=self.plan.collate
        )
        return self.accelerator.prepare(loader)

    def compute_loss(
        self,
        model: Any,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        loss, outputs = super().compute_loss(model, inputs, True, num_items_in_batch)
        mask = inputs["attention_mask"]
        tally = self.plan.tally
        tally.real += int(mask.sum())  # counted here, not in the collator: the loader
        tally.padded += int(mask.numel())  # prefetches a batch that may never be trained on
        tally.examples += int(mask.shape[0])
        self.plan.metrics.add(
            self.state.global_step, float(loss.detach()), outputs, inputs, self.plan.classify
        )
        return (loss, outputs) if return_outputs else loss


class StopOnSignal(TrainerCallback):
    """When `stop` is set, finish the current step, save a checkpoint and stop."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
        if self.stop.is_set() and state.global_step < state.max_steps:
            control.should_save = True
            control.should_training_stop = True
        return control
