"""The parts the fine-tune's Trainer is built from: the planned batches, the collator and
the loss and accuracy of the last epoch and of the eval set. (GridwaitCallback counts
the tokens and handles the stop.)

Imports torch and transformers: import this module only when a fine-tune runs
(`finetune()` does), so that nothing else pays for them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import Trainer

from gridwait.estimators.batching import IntArray

IGNORE = -100
"""Label id the loss ignores (padding positions of a causal LM)."""


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
    """Loss and accuracy over the batches from batch `from_batch` on (0: all)."""

    def __init__(self, from_batch: int) -> None:
        self.from_batch = from_batch
        self.losses: list[float] = []
        self.correct = 0
        self.seen = 0
        self.padded = 0
        """Positions (tokens with padding) of the batches seen."""

    def add(self, batch: int, loss: float, outputs: Any, inputs: Any, classify: bool) -> None:
        """`batch`: its index in the plan; `loss`: its mean over the batch's own items."""
        if batch < self.from_batch:
            return
        self.losses.append(loss)
        self.padded += int(inputs["input_ids"].numel())
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
    """Row indices of each batch, all epochs, in order (the estimator's plan); an optimizer
    step takes `gradient_accumulation_steps` of them."""
    collate: Collator
    classify: bool
    metrics: LastEpoch


class PlannedTrainer(Trainer):
    """transformers' Trainer on exactly the planned batches, with the last epoch's metrics
    and an eval set in planned batches too."""

    def __init__(self, plan: Plan, **kwargs: Any) -> None:
        self.plan = plan
        self._eval: tuple[list[dict[str, Any]], Sequence[IntArray], LastEpoch] | None = None
        self._batch: int | None = None
        """Index in the plan of the next batch trained on."""
        super().__init__(train_dataset=plan.rows, data_collator=plan.collate, **kwargs)
        if plan.classify:
            # A sequence classifier takes **kwargs, so Trainer believes it divides its loss
            # by the accumulated step's items, but it returns the batch's mean: let Trainer
            # divide by the accumulation steps, or the gradient and logged loss are A x.
            self.loss_is_scaled_for_ga = False

    def get_train_dataloader(self) -> Any:
        return self._loader(self.plan.rows, self.plan.batches)

    def get_eval_dataloader(self, eval_dataset: Any = None) -> Any:
        assert self._eval is not None, "evaluate_planned() sets the eval batches"
        return self._loader(self._eval[0], self._eval[1])

    def _loader(self, rows: list[dict[str, Any]], batches: Sequence[IntArray]) -> Any:
        dataset: Any = rows  # a list is a map-style dataset for the DataLoader
        loader: Any = torch.utils.data.DataLoader(
            dataset, batch_sampler=Batches(batches), collate_fn=self.plan.collate
        )
        return self.accelerator.prepare(loader)

    def evaluate_planned(
        self, rows: list[dict[str, Any]], batches: Sequence[IntArray]
    ) -> tuple[float | None, LastEpoch]:
        """Trainer's evaluation loop (the report_to integrations log its eval_loss) on
        `rows` in `batches`: its eval_loss (the batches' losses weighted by their
        examples) and the metrics counted from the same passes."""
        metrics = LastEpoch(0)
        self._eval = (rows, batches, metrics)
        dataset: Any = rows  # read only by get_eval_dataloader
        try:
            loss = self.evaluate(eval_dataset=dataset).get("eval_loss")
        finally:
            self._eval = None
        return (float(loss) if isinstance(loss, int | float) else None), metrics

    def compute_loss(
        self,
        model: Any,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        loss, outputs = super().compute_loss(model, inputs, True, num_items_in_batch)
        if self._eval is not None and not model.training:
            metrics, batch = self._eval[2], 0
        else:
            if self._batch is None:  # a resumed run skipped the batches of its steps done
                self._batch = self.state.global_step * self.args.gradient_accumulation_steps
            metrics, batch = self.plan.metrics, self._batch
            self._batch += 1
        mean = float(loss.detach())
        if not self.plan.classify and num_items_in_batch is not None:
            # a causal LM divides its batch's summed loss by the items of the whole step
            own = int((inputs["labels"][..., 1:] != IGNORE).sum())
            mean = mean * float(num_items_in_batch) / own if own else mean
        metrics.add(batch, mean, outputs, inputs, self.plan.classify)
        return (loss, outputs) if return_outputs else loss
