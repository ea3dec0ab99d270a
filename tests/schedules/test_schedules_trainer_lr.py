"""A real Trainer run logs, at every step, exactly the LR of our curve (and counts the same steps)."""

from __future__ import annotations

import pytest
from helpers.runs import token_dataset

from lrexplorer.runs.steps import plan_steps
from lrexplorer.schedules import compute_curve
from lrexplorer.schedules.build import CatalogueSchedulerMixin

pytestmark = pytest.mark.slow


def run_trainer(
    tmp_path,
    model,
    schedule,
    kwargs,
    *,
    n,
    batch,
    ga,
    epochs=1.0,
    max_steps=-1,
    warmup=0.0,
    drop_last=False,
    via_mixin=False,
):
    from transformers import Trainer, TrainingArguments

    args = TrainingArguments(
        output_dir=str(tmp_path),
        report_to="none",
        use_cpu=True,
        logging_steps=1,
        save_strategy="no",
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=ga,
        num_train_epochs=epochs,
        max_steps=max_steps,
        warmup_steps=warmup,
        dataloader_drop_last=drop_last,
        learning_rate=1e-3,
        lr_scheduler_type="linear" if via_mixin else schedule,
        lr_scheduler_kwargs={} if via_mixin else kwargs,
        disable_tqdm=True,
    )
    if via_mixin:
        trainer_cls = type("CatalogueTrainer", (CatalogueSchedulerMixin, Trainer), {"lrx_schedule": (schedule, kwargs)})
    else:
        trainer_cls = Trainer
    trainer = trainer_cls(model=model, args=args, train_dataset=token_dataset(n))
    trainer.train()
    logged = {e["step"]: e["learning_rate"] for e in trainer.state.log_history if "learning_rate" in e}
    return trainer.state.max_steps, logged


CASES = [
    # schedule, kwargs, run shape; fractional epochs, a partial final accumulation and a warmup ratio
    ("linear", {}, {"n": 101, "batch": 2, "ga": 2, "epochs": 1.5, "warmup": 0.1}, False),
    ("cosine_with_restarts", {"num_cycles": 3}, {"n": 64, "batch": 2, "ga": 1, "max_steps": 30, "warmup": 5}, False),
    (
        "warmup_stable_decay",
        {"num_decay_steps": 10, "decay_type": "1-sqrt"},
        {"n": 50, "batch": 1, "ga": 2, "epochs": 1.2, "warmup": 4},
        False,
    ),
    (
        "polynomial",
        {"power": 2.0, "lr_end": 1e-5},
        {"n": 40, "batch": 3, "ga": 1, "epochs": 2, "warmup": 1.0, "drop_last": True},
        False,
    ),
    ("OneCycleLR", {"pct_start": 0.4}, {"n": 70, "batch": 2, "ga": 1, "max_steps": 28, "warmup": 6}, True),
    ("StepLR", {"step_size": 7, "gamma": 0.5}, {"n": 33, "batch": 4, "ga": 1, "epochs": 3, "drop_last": True}, True),
    (
        "CosineAnnealingWarmRestarts",
        {"T_0": 5, "T_mult": 2},
        {"n": 30, "batch": 1, "ga": 1, "max_steps": 30, "warmup": 0.1},
        True,
    ),
]


@pytest.mark.parametrize(("schedule", "kwargs", "shape", "via_mixin"), CASES, ids=[c[0] for c in CASES])
def test_logged_learning_rate_equals_curve(tmp_path, tiny_llama, schedule, kwargs, shape, via_mixin):
    plan = plan_steps(
        num_examples=shape["n"],
        per_device_train_batch_size=shape["batch"],
        gradient_accumulation_steps=shape["ga"],
        num_train_epochs=shape.get("epochs", 1.0),
        max_steps=shape.get("max_steps", -1),
        dataloader_drop_last=shape.get("drop_last", False),
        warmup_steps=shape.get("warmup", 0.0),
    )
    curve = compute_curve(schedule, 1e-3, plan.total_steps, plan.warmup_steps, kwargs)
    real_kwargs = kwargs if via_mixin else curve.kwargs  # the Trainer gets exactly our resolved kwargs
    total, logged = run_trainer(tmp_path, tiny_llama(), schedule, real_kwargs, via_mixin=via_mixin, **shape)

    assert total == plan.total_steps
    assert sorted(logged) == list(range(1, total + 1)), "every update must be logged once"
    # The LR logged at global step s is the one update s-1 used (logged before the scheduler steps).
    for s, lr in logged.items():
        assert lr == pytest.approx(curve.lr[s - 1], rel=1e-9, abs=1e-15), f"step {s}"
