"""The Schedules page: compare learning-rate schedules exactly as the Trainer will apply them.

The curves come from `lrexplorer.schedules`, the step counting from `lrexplorer.runs.steps`, the settings and form
from `form`; this module draws the curves, the run's plan and what the trainer will do.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from lrexplorer.app.common import widgets
from lrexplorer.app.common.schedule_inputs import ordered_schedule_names
from lrexplorer.app.common.schedule_view import (
    MAX_TOTAL_STEPS,
    CurveView,
    curves_csv,
    full_curves,
    stacked_formula,
    summary_row,
    trainer_notes,
)
from lrexplorer.app.figures.lr_curves import lr_figure, warmup_figure, warmup_window
from lrexplorer.app.schedules.form import SCHEDULES, arguments_form, run_form
from lrexplorer.core.fields import FieldError
from lrexplorer.runs.steps import StepPlan
from lrexplorer.schedules import CATALOGUE, span_of


def render() -> None:
    st.title("Learning-rate schedules")
    st.caption(
        "Each curve is the LR the transformers Trainer applies at every optimizer update, for the "
        "arguments below. Pick schedules, set the run, and compare."
    )
    notes, problems = SCHEDULES.begin()
    for note in notes:
        st.info(note, icon=":material/history:")
    if problems:
        st.warning("Ignored in the link: " + "; ".join(problems) + ".", icon=":material/link_off:")

    names = st.multiselect(
        "Schedules to compare",
        ordered_schedule_names(),
        **SCHEDULES.bind("names"),
        format_func=lambda n: CATALOGUE[n].label,
        placeholder="Pick one or more schedules",
        help="The first six are the schedules of the training notes; then every transformers "
        "lr_scheduler_type, then the torch.optim.lr_scheduler classes.",
    )
    controls, output = st.columns([5, 7], gap="large")
    views: list[CurveView] = []
    kwargs_by_name: dict[str, dict[str, Any]] = {}
    errors: dict[str, FieldError] = {}
    with controls:
        learning_rate, plan = run_form()
        drawable = plan if isinstance(plan, StepPlan) and plan.total_steps <= MAX_TOTAL_STEPS else None
        for name in names:
            schedule_block(name, learning_rate, drawable, views, kwargs_by_name, errors)
    with output:
        if not plan_is_drawable(plan, errors, names):
            return
        assert isinstance(plan, StepPlan)
        draw_curves(plan, views)
    if views:  # below both columns, at full width: seven columns do not fit beside the controls
        trainer_table(views, learning_rate, plan, kwargs_by_name)


def schedule_block(
    name: str,
    learning_rate: float,
    plan: StepPlan | None,
    views: list[CurveView],
    kwargs_by_name: dict[str, dict[str, Any]],
    errors: dict[str, FieldError],
) -> None:
    """One schedule's expander: its formula, explanation and arguments; its curve (when the run can be
    drawn) goes to `views`, a bad argument to `errors`."""
    schedule = CATALOGUE[name]
    span = max(1, span_of(schedule, plan.total_steps, plan.warmup_steps)) if plan else None
    with st.expander(schedule.label):
        # The column is narrow: stack the formula's parts and shrink the longest ones to fit.
        size = r"\scriptsize " if len(schedule.latex) > 150 else r"\footnotesize " if len(schedule.latex) > 80 else ""
        st.latex(size + stacked_formula(schedule.latex))
        st.markdown(schedule.explanation)
        if schedule.metric_driven:
            st.info(
                "The LR reacts to the evaluation loss, so no curve can be known in advance. "
                "The line shows the run without evaluations, where the LR stays at learning_rate.",
                icon=":material/info:",
            )
        try:
            kwargs_by_name[name] = arguments_form(schedule, span)
            if plan:
                views.append(
                    widgets.cached_view(name, learning_rate, plan.total_steps, plan.warmup_steps, kwargs_by_name[name])
                )
        except FieldError as err:
            errors[name] = err
            widgets.show_error(err)


def plan_is_drawable(plan: StepPlan | FieldError, errors: dict[str, FieldError], names: list[str]) -> bool:
    """The plan's figures and every problem with the run; False when there is nothing to draw."""
    if isinstance(plan, FieldError):
        widgets.show_error(plan)
        return False
    show_plan(plan)
    if plan.total_steps > MAX_TOTAL_STEPS:
        field = "num_train_epochs" if plan.epoch_based else "max_steps"
        widgets.show_error(
            FieldError(
                field,
                f"{plan.total_steps:,} updates is more than this page draws ({MAX_TOTAL_STEPS:,}); shorten the run",
            )
        )
        return False
    if plan.warmup_steps >= plan.total_steps:
        widgets.show_error(
            FieldError(
                "warmup_steps",
                f"the warmup ({plan.warmup_steps:,} updates) is as long as the whole run ({plan.total_steps:,} "
                "updates) or longer, so the LR never gets past the ramp. Lower warmup_steps",
            )
        )
    for err in errors.values():
        widgets.show_error(err, prefix="**Not drawn** · ")
    if not names:
        st.info("Pick at least one schedule on the left to draw its curve.", icon=":material/arrow_back:")
        return False
    return True


def count(n: int) -> str:
    """A count short enough for a metric in a narrow column: 6.25 M rather than a cut-off 6,250,000."""
    if n >= 1_000_000:
        return f"{n / 1e6:.3g} M"
    return f"{n / 1e3:.3g} k" if n >= 100_000 else f"{n:,}"


def show_plan(plan: StepPlan) -> None:
    cols = st.columns(4)
    cols[0].metric(
        "Updates",
        count(plan.total_steps),
        help=f"{plan.total_steps:,} optimizer.step() calls: the scheduler's num_training_steps.",
    )
    cols[1].metric(
        "Warmup", count(plan.warmup_steps), help=f"{plan.warmup_steps:,} updates: num_warmup_steps of the scheduler."
    )
    per_epoch = plan.updates_per_epoch
    cols[2].metric(
        "Per epoch",
        "—" if per_epoch is None else count(per_epoch),
        help="Updates per epoch" + ("" if per_epoch is None else f": {per_epoch:,}") + ".",
    )
    cols[3].metric(
        "Global batch",
        "—" if plan.updates_per_epoch is None else count(plan.global_batch_size),
        help="Examples per update: batch × accumulation × processes.",
    )
    if plan.batches_per_epoch is not None:
        st.caption(
            f"Each process sees {plan.batches_per_epoch:,} micro-batches per epoch → {plan.updates_per_epoch:,} updates "
            f"per epoch (a partial accumulation still steps) × {plan.epochs} epoch(s) started"
            + (", cut at max_steps." if not plan.epoch_based else ".")
        )
    for note in plan.notes:
        st.warning(note, icon=":material/history:")


def draw_curves(plan: StepPlan, views: list[CurveView]) -> None:
    """The overlay of every curve, with its notes, and the warmup close-up."""
    head_col, toggle_col = st.columns([3, 1])
    head_col.subheader("LR at each optimizer update")
    log_y = toggle_col.toggle(
        "Log scale", help="Zeros cannot be shown on a log scale and are left out.", **SCHEDULES.bind("log_y")
    )
    boundaries = plan.epoch_boundaries()
    fig = lr_figure([v.line for v in views], warmup_steps=plan.warmup_steps, epoch_boundaries=boundaries, log_y=log_y)
    st.plotly_chart(fig, width="stretch", key="sched.chart")
    notes = [
        "Hover a line for exact values. The `learning_rate` the Trainer logs at global step s is the LR of "
        "update s − 1."
    ]
    if plan.total_steps > 2000:
        notes.append(
            f"Drawn from a few thousand of the {plan.total_steps:,} points per curve (peaks, troughs and "
            "jumps kept); the CSV below has every update."
        )
    if len(boundaries) > 60:
        notes.append(f"The {len(boundaries) + 1} epoch boundaries are too many to draw.")
    elif boundaries:
        notes.append("Dotted lines mark the first update of each new epoch.")
    st.caption(" ".join(notes))

    if plan.warmup_steps > 0 and views:
        window = min(warmup_window(plan.warmup_steps), plan.total_steps)
        st.subheader(f"Warmup close-up: the first {window:,} updates")
        st.plotly_chart(
            warmup_figure([v.head for v in views], plan.warmup_steps), width="stretch", key="sched.warmup_chart"
        )


def trainer_table(
    views: list[CurveView], learning_rate: float, plan: StepPlan, kwargs_by_name: dict[str, dict[str, Any]]
) -> None:
    """What the trainer will do: one summary row per curve, the caveats, and the full curves as CSV."""
    st.subheader("What the trainer will do")
    # A static table: its cells wrap, so a long name (CosineAnnealingWarmRestarts) is never cut.
    st.table([{**summary_row(v), "updates": f"{v.total_steps:,}"} for v in views], hide_index=True)
    grouped: dict[tuple[str, str], list[str]] = {}
    for v in views:
        for note in trainer_notes(v, learning_rate):
            grouped.setdefault(note, []).append(v.name)
    widgets.show_notes((level, f"**{', '.join(who)}** · {text}") for (level, text), who in grouped.items())

    def make_csv() -> str:
        drawn = [v.name for v in views]
        return curves_csv(full_curves(drawn, learning_rate, plan.total_steps, plan.warmup_steps, kwargs_by_name))

    st.download_button(
        "Download the curves (CSV)",
        data=make_csv,
        file_name="lr_schedules.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        help="Every update at full resolution: `step` is the 0-based update, then one LR column per schedule.",
    )
