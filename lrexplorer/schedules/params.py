"""Scheduler arguments: each is a `Field` (type, default, range) named as the real scheduler names it.

Every error is a FieldError naming the argument with its schedule as scope, because these messages
are shown verbatim in the page and the command line.
"""

from __future__ import annotations

from typing import Any

from lrexplorer.core.fields import Field, FieldError
from lrexplorer.core.groups import SCHEDULE, TRAIN
from lrexplorer.core.limits import MAX_LR

# The schedule's peak: the one argument every schedule takes. It is also a field of the parameter
# catalogue (group "Optimisation"), which takes this object as it is.
LEARNING_RATE = Field(
    "learning_rate",
    "float",
    5e-4,
    "Peak step size of the optimizer; the schedule scales it at every "
    "update. Too high diverges (loss becomes nan), too low barely moves.",
    "optimisation",
    "optimizer",
    tools=(TRAIN, SCHEDULE),
    library_default=2e-5,
    low=0.0,
    low_open=True,
    high=MAX_LR,
)

# Arguments that set the lowest LR a schedule reaches; none may lie above the schedule's peak, which is
# max_lr where the schedule takes one (CyclicLR, OneCycleLR, greedy) and learning_rate otherwise.
FLOORS = ("min_lr", "lr_end", "eta_min", "base_lr")


def resolve_kwargs(schedule: str, params: tuple[Field, ...], given: dict[str, Any] | None, span: int) -> dict:
    """Fill defaults, convert and validate. Unknown keys are an error that lists the known ones.

    Arguments that follow learning_rate (`derived_from_lr`) stay None here: `with_lr` fills them.
    """
    given = dict(given or {})
    known = {p.name: p for p in params}
    for key in given:
        if key not in known:
            allowed = ", ".join(known) or "none (this schedule takes no arguments)"
            raise FieldError(key, f"unknown argument; allowed: {allowed}", schedule)
    out: dict[str, Any] = {}
    for p in params:
        value = given[p.name] if p.name in given else p.run_default(span)
        out[p.name] = p.convert(value, schedule)
    return out


def with_lr(params: tuple[Field, ...], kwargs: dict[str, Any], learning_rate: float) -> dict[str, Any]:
    """The kwargs with every empty argument that follows learning_rate set to its factor times it."""
    out = dict(kwargs)
    for p in params:
        if p.derived_from_lr is not None and out.get(p.name) is None:
            out[p.name] = p.derived_from_lr * learning_rate
    return out


def check_floors(schedule: str, kwargs: dict[str, Any], learning_rate: float) -> None:
    """FieldError naming the first floor argument above the peak: such a schedule would climb, not decay."""
    peak_name, peak = (
        ("max_lr", kwargs["max_lr"]) if kwargs.get("max_lr") is not None else ("learning_rate", learning_rate)
    )
    for name in FLOORS:
        floor = kwargs.get(name)
        if floor is not None and floor > peak:
            raise FieldError(
                name, f"is the LR's floor and must not exceed {peak_name} ({peak:g}); got {floor:g}", schedule
            )
