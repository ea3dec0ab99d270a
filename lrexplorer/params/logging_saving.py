"""Catalogue fields of the group "Logging, evaluation and saving": what a run writes, and when."""

from __future__ import annotations

from ..fields import Field

G = "logging-eval-saving"

LOGGING_SAVING: tuple[Field, ...] = (
    Field(
        "output_dir",
        "str",
        None,
        "Folder of the run (checkpoints, metrics, final model); "
        "lrexplorer picks one under the runs directory when empty.",
        G,
        "logging-saving",
        nullable=True,
    ),
    Field(
        "run_name",
        "str",
        None,
        "Name shown for the run here and in trackers.",
        G,
        "tracking",
        nullable=True,
    ),
    Field(
        "report_to",
        "choice",
        "none",
        "Send logs to a tracker as well as to the run folder.",
        G,
        "tracking",
        choices=("none", "all", "tensorboard", "wandb", "mlflow", "trackio", "comet_ml", "clearml"),
    ),
    Field(
        "logging_strategy",
        "choice",
        "steps",
        "When to log: every logging_steps updates, at each epoch end, or never (then metrics.jsonl stays empty).",
        G,
        "logging-saving",
        choices=("steps", "epoch", "no"),
    ),
    Field(
        "logging_steps",
        "float",
        1,
        "Updates between two logs; below 1 a fraction of all updates.",
        G,
        "logging-saving",
        library_default=10,
        low=0.0,
        low_open=True,
    ),
    Field(
        "logging_nan_inf_filter",
        "bool",
        False,
        "Hide nan/inf losses in the logs by logging the "
        "average so far instead. Off here: a diverging run must show it.",
        G,
        "logging-saving",
        library_default=True,
    ),
    Field(
        "save_strategy",
        "choice",
        "steps",
        "When to save a checkpoint (weights, optimizer, scheduler) to resume from.",
        G,
        "logging-saving",
        choices=("no", "steps", "epoch"),
    ),
    Field(
        "save_steps",
        "float",
        100,
        "Updates between checkpoints; below 1 a fraction of all updates.",
        G,
        "logging-saving",
        library_default=500,
        low=0.0,
        low_open=True,
    ),
    Field(
        "save_total_limit",
        "int",
        2,
        "Keep only the newest checkpoints; null keeps all.",
        G,
        "logging-saving",
        library_default=None,
        low=1,
        nullable=True,
    ),
    Field(
        "eval_strategy",
        "choice",
        "no",
        "When to compute the loss on the test split: never, every "
        "eval_steps updates, or at each epoch end (formerly evaluation_strategy).",
        G,
        "evaluation",
        choices=("no", "steps", "epoch"),
    ),
    Field(
        "eval_steps",
        "float",
        None,
        "Updates between evaluations; null uses logging_steps.",
        G,
        "evaluation",
        low=0.0,
        low_open=True,
        nullable=True,
    ),
    Field(
        "per_device_eval_batch_size",
        "int",
        8,
        "Examples per evaluation batch.",
        G,
        "evaluation",
        low=1,
    ),
)
