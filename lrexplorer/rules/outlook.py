"""Rules over what the pre-flight computed for a run: its length against warmup and logging, its first
learning rate, and its memory against the device's."""

from __future__ import annotations

from lrexplorer.core.units import GIB
from lrexplorer.rules.rule import Outlook, Subject, advice

TIGHT = 0.9  # above this share of the device's memory, fragmentation alone may run a step out of memory


def _outlook(s: Subject) -> Outlook:
    assert s.outlook is not None
    return s.outlook


@advice("error", "per_device_train_batch_size", needs=("outlook",))
def will_not_fit(s: Subject) -> str | None:
    """An estimated peak above the device's memory."""
    o = _outlook(s)
    if o.peak_bytes is None or not o.capacity_bytes or o.peak_bytes <= o.capacity_bytes:
        return None
    return (
        f"Will not fit: the estimated peak is {o.peak_bytes / GIB:.2f} GiB per device but {o.capacity_label} holds "
        f"{o.capacity_bytes / GIB:.2f} GiB. Lower per_device_train_batch_size or max_length, or turn on "
        "activation_checkpointing, an 8-bit optim, bf16 or use_peft."
    )


@advice("warning", "per_device_train_batch_size", needs=("outlook",))
def tight_fit(s: Subject) -> str | None:
    """An estimated peak close to the device's memory."""
    o = _outlook(s)
    if o.peak_bytes is None or not o.capacity_bytes or not TIGHT * o.capacity_bytes < o.peak_bytes <= o.capacity_bytes:
        return None
    return (
        f"Tight: the estimated peak ({o.peak_bytes / GIB:.2f} GiB) is over 90% of {o.capacity_label}; "
        "fragmentation may still run it out of memory."
    )


@advice("warning", "warmup_steps", needs=("outlook",))
def first_update_at_lr_zero(s: Subject) -> str | None:
    """A schedule whose first update has LR 0."""
    if _outlook(s).first_lr == 0:
        return (
            "The first update uses LR 0: warmup starts at 0, so update 0 only fills Adam's moment estimates and "
            "leaves the weights unchanged."
        )
    return None


@advice("warning", "warmup_steps", needs=("outlook",))
def warmup_as_long_as_the_run(s: Subject) -> str | None:
    """Warmup that never ends."""
    o = _outlook(s)
    if o.warmup_steps is not None and o.total_steps is not None and o.warmup_steps >= o.total_steps:
        return (
            f"Warmup ({o.warmup_steps} updates) is as long as the run ({o.total_steps} updates): the LR never "
            "reaches learning_rate. Lower warmup_steps (a value below 1 is a fraction of the run)."
        )
    return None


@advice("info", "warmup_steps", needs=("outlook",))
def warmup_over_half(s: Subject) -> str | None:
    """Warmup longer than half the run."""
    o = _outlook(s)
    if o.warmup_steps is None or o.total_steps is None:
        return None
    if o.total_steps / 2 < o.warmup_steps < o.total_steps:
        return f"Warmup takes {o.warmup_steps} of {o.total_steps} updates: more than half the run."
    return None


@advice("warning", "logging_steps", needs=("outlook",))
def logging_beyond_the_run(s: Subject) -> str | None:
    """A logging interval longer than the run."""
    total, v = _outlook(s).total_steps, s.values
    if (
        total is not None
        and v["logging_strategy"] == "steps"
        and v["logging_steps"] >= 1
        and v["logging_steps"] > total
    ):
        return (
            f"logging_steps ({v['logging_steps']:g}) exceeds the run's {total} updates: nothing will be logged, "
            "so the charts stay empty."
        )
    return None
