"""What the Schedules page shows about a curve: the drawable points, a summary and the caveats.

A `CurveView` is small (a few thousand points) so the page can cache it and send it to the
browser; the full-resolution curve is recomputed only for the CSV download.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrexplorer.app.figures.lr_curves import Line, warmup_window
from lrexplorer.schedules import CATALOGUE, Schedule, compute_curve, span_of

MAX_TOTAL_STEPS = 10_000_000  # a curve of 10M float64 values is 80 MB; more would stall the page


@dataclass(frozen=True)
class CurveView:
    name: str
    kwargs: dict[str, Any]  # resolved, exactly as passed to the real scheduler
    total_steps: int
    warmup_steps: int
    line: Line  # decimated points for the overlay chart
    head: Line  # the first warmup_window(W) updates for the close-up, full resolution up to 2000 of them
    first: float
    last: float
    lowest: float
    highest: float


def view_curve(
    name: str,
    learning_rate: float,
    total_steps: int,
    warmup_steps: int,
    kwargs: Mapping[str, Any] | None = None,
    max_points: int = 2000,
) -> CurveView:
    """Compute the curve (raises FieldError naming the field) and keep what the page draws."""
    curve = compute_curve(name, learning_rate, total_steps, warmup_steps, dict(kwargs or {}))
    lr = curve.lr
    return CurveView(
        name=name,
        kwargs=curve.kwargs,
        total_steps=total_steps,
        warmup_steps=warmup_steps,
        line=Line.from_lr(name, lr, max_points),
        head=Line.from_lr(name, lr[: warmup_window(warmup_steps)], max_points),
        first=float(lr[0]),
        last=float(lr[-1]),
        lowest=float(lr.min()),
        highest=float(lr.max()),
    )


def stacked_formula(latex: str) -> str:
    """The catalogue formula with its parts (joined by ',\\qquad', ',\\quad' or ',\\ ') on separate lines.

    The Schedules page shows formulas in a narrow column, where one long line would be cut off.
    """
    parts = [p.strip() for p in re.split(r",\\(?:qquad|quad|\s)\s*", latex) if p.strip()]
    if len(parts) == 1:
        return latex
    return r"\begin{gathered}" + r" \\ ".join(parts) + r"\end{gathered}"


def lr_text(lr: float) -> str:
    """A learning rate as it is written in configs: 2e-05, 1.5e-04, 2.02e-08; 0 as 0. A fixed-point format
    would show 2e-05 as 0.0000 in a narrow column."""
    if lr == 0:
        return "0"
    mantissa, exponent = f"{lr:.2e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"


def summary_row(view: CurveView) -> dict[str, Any]:
    """One row of the 'what the trainer will do' table; learning rates as text, formatted here."""
    schedule = CATALOGUE[view.name]
    # Text in both cases: one column of one type (Arrow, behind st.dataframe, refuses mixed columns).
    warm = f"{view.warmup_steps:,}" if schedule.uses_warmup else "ignored"
    return {
        "schedule": view.name,
        "updates": view.total_steps,
        "warmup": warm,
        "first LR": lr_text(view.first),
        "last LR": lr_text(view.last),
        "min LR": lr_text(view.lowest),
        "max LR": lr_text(view.highest),
    }


def trainer_notes(view: CurveView, learning_rate: float) -> list[tuple[str, str]]:
    """(level, text) caveats about how the real run will differ from what one might assume.

    level is "warning" for surprises that change training, "info" for facts worth knowing. Texts
    have no subject, so a page can prefix them with the schedules they apply to.
    """
    schedule = CATALOGUE[view.name]
    n, w, kw = view.total_steps, view.warmup_steps, view.kwargs
    out: list[tuple[str, str]] = []
    if w > 0 and not schedule.uses_warmup:
        out.append(
            (
                "warning",
                f"Ignores `warmup_steps`: there is no ramp, the LR is {learning_rate:g} from the first update on.",
            )
        )
    if view.first == 0.0:
        out.append(
            (
                "warning",
                "The first update uses LR 0 (the warmup ramp starts at zero): it leaves the weights "
                "unchanged and only fills the optimizer's running averages.",
            )
        )
    if view.name == "OneCycleLR":
        out += _one_cycle_notes(schedule, kw, learning_rate, w)
    if view.name == "CyclicLR":
        if kw["base_lr"] is None and kw["max_lr"] is None:
            out.append(
                (
                    "info",
                    "Ignores the optimizer's LR. With base_lr and max_lr empty, lrexplorer passes "
                    + followed_lr(schedule, kw, learning_rate)
                    + ".",
                )
            )
        else:
            out.append(
                (
                    "warning",
                    "Ignores `learning_rate` after the warmup: it moves between base_lr and "
                    "max_lr (an empty one follows learning_rate).",
                )
            )
    if schedule.metric_driven:
        out.append(
            (
                "info",
                "The LR reacts to the evaluation loss: it changes only after an evaluation reports a "
                "metric. The flat line is the run without evaluations (eval_strategy='no').",
            )
        )
    if schedule.family == "torch" and 0 < w < n:
        out.append(
            (
                "info",
                f"The torch scheduler takes over at update {w}, after the warmup; its own step "
                "counts (step_size, milestones, T_max, ...) start there.",
            )
        )
    if view.name == "CosineAnnealingLR" and kw["T_max"] < span_of(schedule, n, w):
        out.append(
            (
                "warning",
                f"T_max ({kw['T_max']}) is shorter than the {span_of(schedule, n, w)} updates "
                "after warmup: past T_max the cosine climbs back up.",
            )
        )
    return out


def followed_lr(schedule: Schedule, kwargs: Mapping[str, Any], learning_rate: float) -> str:
    """'base_lr = 0.1 × learning_rate (5e-05) and max_lr = learning_rate (0.0005)': each empty argument
    that follows learning_rate, in the words and with the factor its field declares."""
    real = schedule.with_lr(dict(kwargs), learning_rate)
    empty = [p for p in schedule.params if p.derived_from_lr is not None and kwargs.get(p.name) is None]
    return " and ".join(f"{p.name} = {p.empty_means()} ({real[p.name]:g})" for p in empty)


def _one_cycle_notes(
    schedule: Schedule, kw: Mapping[str, Any], learning_rate: float, warmup: int
) -> list[tuple[str, str]]:
    peak = schedule.with_lr(dict(kw), learning_rate)["max_lr"]
    start = peak / kw["div_factor"]
    end = start / kw["final_div_factor"]
    out = []
    if kw["max_lr"] is None:
        out.append(
            (
                "info",
                "Ignores the optimizer's LR. With max_lr empty, lrexplorer passes "
                f"{followed_lr(schedule, kw, learning_rate)}: it starts at {start:.3g}, peaks at "
                f"{peak:.3g} and ends at {end:.3g}.",
            )
        )
    else:
        out.append(
            (
                "warning",
                f"Ignores `learning_rate` ({learning_rate:g}) after the warmup: it starts "
                f"at max_lr / div_factor = {start:.3g}, peaks at max_lr = {peak:.3g} and ends at "
                f"{end:.3g}.",
            )
        )
    if warmup > 0:
        out.append(
            (
                "warning",
                f"Has its own warmup (pct_start). After the `warmup_steps` ramp to "
                f"{learning_rate:g} the LR drops to {start:.3g}, where the cycle begins; "
                "warmup_steps=0 is usually what you want with it.",
            )
        )
    return out


def curves_csv(curves: Sequence[tuple[str, np.ndarray]]) -> str:
    """CSV of full-resolution curves: `step` (0-based update) then one LR column per schedule.

    Floats are written with repr, the shortest text that reads back as the identical float64.
    """
    if not curves:
        return "step\n"
    size = max(lr.size for _, lr in curves)
    header = ",".join(["step", *(name for name, _ in curves)])
    columns = [[str(k) for k in range(size)]]
    for _, lr in curves:
        text = [repr(v) for v in lr.tolist()]
        columns.append(text + [""] * (size - len(text)))
    return header + "\n" + "\n".join(",".join(row) for row in zip(*columns)) + "\n"


def full_curves(
    names: Sequence[str],
    learning_rate: float,
    total_steps: int,
    warmup_steps: int,
    kwargs_by_name: Mapping[str, Mapping[str, Any]],
) -> list[tuple[str, np.ndarray]]:
    """Recompute the curves at full resolution (for the download), skipping any with bad input."""
    out = []
    for name in names:
        try:
            out.append(
                (name, compute_curve(name, learning_rate, total_steps, warmup_steps, dict(kwargs_by_name[name])).lr)
            )
        except ValueError:
            continue  # the page already shows this schedule's error
    return out
