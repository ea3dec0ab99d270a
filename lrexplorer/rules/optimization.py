"""Rules of optimisation: the optimizer against the device, weight decay against the learning rate, the
schedule's arguments and what a metric-driven schedule needs, and the settings that surprise."""

from __future__ import annotations

from lrexplorer.catalogues import optimizers
from lrexplorer.core.fields import FieldError
from lrexplorer.rules.rule import BOTH, Subject, advice, refusal
from lrexplorer.schedules import get_schedule

HIGH_LR = 1e-2  # above this, Adam-family fine-tuning usually diverges
UNKNOWN_SPAN = 1000  # updates a schedule is checked over before the data gives the real count


@refusal("optim", tools=BOTH)
def optim_runs_on_device(s: Subject) -> str | None:
    """An optimizer on a device it has no implementation for."""
    name, device = s.values["optim"], "cpu" if s.on_cpu else "cuda"
    runs_on = optimizers.get(name).devices
    if device not in runs_on:
        return f"{name} runs on {' and '.join(runs_on)} only, not on device {device}"
    return None


@refusal("weight_decay")
def decay_below_one_over_lr(s: Subject) -> str | None:
    """learning_rate x weight_decay of 1 or more."""
    lr, decay = s.values["learning_rate"], s.values["weight_decay"]
    # Every optimizer here multiplies each weight by (1 - lr x weight_decay) per update.
    if lr * decay >= 1:
        return (
            f"learning_rate x weight_decay must be below 1 (each update scales the weights by 1 - their product, "
            f"so {lr:g} x {decay:g} zeroes or flips them); typical weight_decay: 0 to 0.1"
        )
    return None


@refusal("lr_scheduler_kwargs")
def schedule_arguments(s: Subject) -> FieldError | None:
    """A schedule name or argument the schedules catalogue refuses."""
    v = s.values
    try:
        schedule = get_schedule(v["lr_scheduler_type"])
        # The true span is known only once the data is loaded; any positive span checks names and types.
        span = v["max_steps"] if v["max_steps"] > 0 else UNKNOWN_SPAN
        schedule.with_lr(schedule.resolve(v["lr_scheduler_kwargs"], span), v["learning_rate"])
    except FieldError as exc:
        # A scheduler argument's error names the argument; the spec field at fault is lr_scheduler_kwargs.
        return exc if exc.field == "lr_scheduler_type" else FieldError("lr_scheduler_kwargs", exc.line)
    return None


@refusal("eval_strategy")
def metric_schedule_needs_eval(s: Subject) -> str | None:
    """A schedule that steps on an evaluation metric, without evaluations."""
    try:
        schedule = get_schedule(s.values["lr_scheduler_type"])
    except FieldError:
        return None  # schedule_arguments names it
    if schedule.metric_driven and s.values["eval_strategy"] == "no":
        return f"{schedule.name} changes the LR after each evaluation; set eval_strategy to steps or epoch"
    return None


@advice("warning", "learning_rate")
def high_learning_rate(s: Subject) -> str | None:
    """A learning rate at which Adam-family fine-tuning usually diverges."""
    lr, optim = s.values["learning_rate"], s.values["optim"]
    if lr > HIGH_LR and optim != "sgd":
        return f"learning_rate {lr:g} is high for fine-tuning with {optim}; the loss may diverge (nan)."
    return None


@advice("info", "num_train_epochs")
def max_steps_overrides_epochs(s: Subject) -> str | None:
    """num_train_epochs set beside max_steps."""
    if s.values["max_steps"] > 0 and s.values["num_train_epochs"] != 1.0:
        return "max_steps is set, so num_train_epochs is ignored."
    return None


@advice("info", "max_grad_norm")
def no_gradient_clipping(s: Subject) -> str | None:
    """max_grad_norm 0."""
    if s.values["max_grad_norm"] == 0:
        return "max_grad_norm is 0: gradients are not clipped."
    return None
