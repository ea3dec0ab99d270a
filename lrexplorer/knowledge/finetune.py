"""Unsupervised fine-tuning on fact documents: continued pre-training with the transformers `Trainer`.

Each paraphrase is one document (followed by the end token); the loss is the plain next-token loss
over the whole document, as in the paper's unsupervised fine-tuning. `Hooks` connect a training to
whoever drives it: every Trainer log record goes to `log`, every optimizer step to `step`, and
`should_stop` is asked after each step (a stop ends the training early and is reported back).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lrexplorer.knowledge.pretrain import tokenized


@dataclass(frozen=True)
class FinetuneSettings:
    learning_rate: float
    batch_size: int
    epochs: float
    max_steps: int | None  # set: that many optimizer updates, whatever the epochs
    warmup_steps: float = 0.1
    weight_decay: float = 0.0


@dataclass
class Hooks:
    log: Callable[[dict[str, Any]], None]
    step: Callable[[int, int], None]  # (global step, max steps)
    should_stop: Callable[[], bool]


def updates_per_epoch(documents: int, batch_size: int) -> int:
    """What the Trainer runs per epoch on one process without accumulation: ceil(documents / batch)."""
    return math.ceil(documents / batch_size)


def planned_steps(documents: int, settings: FinetuneSettings) -> int:
    if settings.max_steps is not None:
        return settings.max_steps
    return math.ceil(settings.epochs * updates_per_epoch(documents, settings.batch_size))


def finetune(
    model: Any, tokenizer: Any, documents: list[str], settings: FinetuneSettings, seed: int, hooks: Hooks
) -> bool:
    """Train `model` in place on `documents`; returns False if `should_stop` cut the training short."""
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainerCallback, TrainingArguments

    stopped = {"flag": False}

    class Relay(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            hooks.step(state.global_step, state.max_steps)
            if hooks.should_stop():
                stopped["flag"] = True
                control.should_training_stop = True

        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
        ) -> None:
            record = {"step": state.global_step, "epoch": state.epoch}
            record.update({k: v for k, v in (logs or {}).items() if isinstance(v, (int, float))})
            hooks.log(record)

    with tempfile.TemporaryDirectory(prefix="lrx-knowledge-") as out:
        args = TrainingArguments(
            output_dir=out,
            num_train_epochs=settings.epochs,
            max_steps=settings.max_steps if settings.max_steps is not None else -1,
            per_device_train_batch_size=settings.batch_size,
            learning_rate=settings.learning_rate,
            lr_scheduler_type="linear",
            warmup_steps=settings.warmup_steps,
            weight_decay=settings.weight_decay,
            logging_steps=1,
            save_strategy="no",
            report_to=[],
            use_cpu=True,
            seed=seed,
            data_seed=seed,
            disable_tqdm=True,
            log_level="error",
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=tokenized(tokenizer, documents),
            data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
            callbacks=[Relay()],
        )
        trainer.remove_callback(_printer_class())
        trainer.train()
    return not stopped["flag"]


def _printer_class() -> Any:
    # With tqdm off the Trainer prints every log dict to stdout; the lab reports through its hooks.
    from transformers.trainer_callback import PrinterCallback

    return PrinterCallback
