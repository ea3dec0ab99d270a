"""Schedules page: compare learning-rate schedules exactly as the Trainer will apply them.

Layout only; the curves come from `lrexplorer.schedules`, the step counting from
`lrexplorer.steps`, the form logic from `lrexplorer.schedule_form`.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from lrexplorer import ui
from lrexplorer.charts import lr_figure, warmup_figure, warmup_window
from lrexplorer.fields import FieldError
from lrexplorer.params import translate
from lrexplorer.schedule_form import DEFAULT_SCHEDULES, ordered_schedule_names, preset_from_query
from lrexplorer.schedule_view import (
    LR_COLUMNS,
    MAX_TOTAL_STEPS,
    curves_csv,
    full_curves,
    stacked_formula,
    summary_row,
    trainer_notes,
)
from lrexplorer.schedules import CATALOGUE, span_of
from lrexplorer.steps import StepPlan, plan_steps

DIRECT, DATASET = "Set total steps directly", "From dataset size"
DEFAULTS = {
    "sched.names": list(DEFAULT_SCHEDULES),
    "sched.learning_rate": 5e-5,
    "sched.warmup_steps": 0.0,
    "sched.mode": DIRECT,
    "sched.max_steps": 1000,
    "sched.num_examples": 10_000,
    "sched.batch": 8,
    "sched.accum": 1,
    "sched.epochs": 3.0,
    "sched.world_size": 1,
    "sched.drop_last": False,
    "sched.log_y": False,
}


def apply_url_preset() -> list[str]:
    """Seed widgets from ?schedule=&lr=&steps=&warmup= once per distinct query (so later edits stick)."""
    query = st.query_params.to_dict()
    signature = repr(sorted(query.items()))
    if st.session_state.get("sched.query_sig") != signature:
        st.session_state["sched.query_sig"] = signature
        preset = preset_from_query(query)
        if preset.schedules:
            st.session_state["sched.names"] = preset.schedules
        if preset.learning_rate is not None:
            st.session_state["sched.learning_rate"] = preset.learning_rate
        if preset.max_steps is not None:
            st.session_state["sched.mode"] = DIRECT
            st.session_state["sched.max_steps"] = preset.max_steps
        if preset.warmup_steps is not None:
            st.session_state["sched.warmup_steps"] = preset.warmup_steps
        st.session_state["sched.query_problems"] = preset.problems
    return st.session_state.get("sched.query_problems", [])


def run_form() -> tuple[float, StepPlan | FieldError]:
    """The shared Trainer arguments: the learning rate and the step plan (or the error naming the field)."""
    c1, c2, c3 = st.columns(3)
    lr = c1.number_input(
        "learning_rate",
        step=1e-5,
        format="%g",
        key="sched.learning_rate",
        help="The peak LR (TrainingArguments.learning_rate). Every schedule scales it over time.",
    )
    warmup = c2.number_input(
        "warmup_steps",
        step=1.0,
        format="%g",
        key="sched.warmup_steps",
        help="Updates spent ramping the LR up from 0. A value of 1 or more counts updates; a value below 1 is a "
        "fraction of all updates (0.1 = the first 10%), as in transformers 5.",
    )
    ratio = c3.number_input(
        "warmup_ratio",
        value=None,
        step=0.01,
        format="%g",
        key="sched.warmup_ratio",
        placeholder="deprecated",
        help="Removed in transformers 5. Still read here as a fraction of the run, so old configs can be checked; "
        "write warmup_steps=<fraction> instead.",
    )
    length = length_form()
    try:
        if not lr > 0:
            raise FieldError("learning_rate", f"must be a number > 0; got {lr!r}")
        # The old warmup_ratio is read as warmup_steps through the catalogue's list of renamed arguments.
        old = {"warmup_ratio": ratio, **({"warmup_steps": warmup} if warmup else {})} if ratio is not None else {}
        translated, notes, problems = translate(old, ("warmup_steps",))
        if problems:
            raise FieldError.collect(problems)
        plan = plan_steps(**length, warmup_steps=translated.get("warmup_steps", warmup))
        return lr, replace(plan, notes=tuple(notes))
    except FieldError as err:
        return lr, err


def length_form() -> dict:
    """Widgets for the run's length; returns plan_steps' keyword arguments (validated there)."""
    mode = st.radio("Length of the run", [DIRECT, DATASET], key="sched.mode", horizontal=True)
    if mode == DIRECT:
        steps = st.number_input(
            "max_steps (total optimizer updates)",
            step=100,
            format="%d",
            key="sched.max_steps",
            help="TrainingArguments.max_steps: the number of optimizer.step() calls.",
        )
        return {"max_steps": int(steps)}
    # Long TrainingArguments names go in the wider column so their labels stay on one line.
    c1, c2 = st.columns([3, 2])
    batch = c1.number_input(
        "per_device_train_batch_size",
        step=1,
        format="%d",
        key="sched.batch",
        help="Examples in one forward pass on each process (GPU).",
    )
    epochs = c2.number_input(
        "num_train_epochs",
        step=0.5,
        format="%g",
        key="sched.epochs",
        help="Passes over the data; fractions such as 1.5 are allowed.",
    )
    accum = c1.number_input(
        "gradient_accumulation_steps",
        step=1,
        format="%d",
        key="sched.accum",
        help="Micro-batches whose gradients are summed before each optimizer update.",
    )
    world = c2.number_input(
        "world_size",
        step=1,
        format="%d",
        key="sched.world_size",
        help="Data-parallel processes, usually one per GPU; each sees its share of the batches.",
    )
    examples = c1.number_input(
        "num_examples",
        step=1000,
        format="%d",
        key="sched.num_examples",
        help="Training examples after any packing or filtering.",
    )
    override = c2.number_input(
        "max_steps",
        value=None,
        step=100,
        format="%d",
        key="sched.max_steps_override",
        placeholder="not set",
        help="If set, it replaces num_train_epochs, as in the Trainer.",
    )
    drop = st.checkbox(
        "dataloader_drop_last",
        key="sched.drop_last",
        help="Drop each epoch's last incomplete batch instead of running it.",
    )
    return {
        "num_examples": int(examples),
        "per_device_train_batch_size": int(batch),
        "gradient_accumulation_steps": int(accum),
        "num_train_epochs": float(epochs),
        "max_steps": -1 if override is None else int(override),
        "world_size": int(world),
        "dataloader_drop_last": bool(drop),
    }


def show_plan(plan: StepPlan) -> None:
    cols = st.columns(4)
    cols[0].metric(
        "Total updates", f"{plan.total_steps:,}", help="optimizer.step() calls: the scheduler's num_training_steps."
    )
    cols[1].metric("Warmup updates", f"{plan.warmup_steps:,}", help="num_warmup_steps passed to the scheduler.")
    cols[2].metric("Updates per epoch", "—" if plan.updates_per_epoch is None else f"{plan.updates_per_epoch:,}")
    cols[3].metric(
        "Global batch",
        "—" if plan.updates_per_epoch is None else f"{plan.global_batch_size:,}",
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


st.title("Learning-rate schedules")
st.caption(
    "Each curve is the LR the transformers Trainer applies at every optimizer update, for the "
    "arguments below. Pick schedules, set the run, and compare."
)
problems = apply_url_preset()
ui.seed_state(DEFAULTS)
if problems:
    st.warning("Ignored in the link: " + "; ".join(problems) + ".", icon=":material/link_off:")

names = st.multiselect(
    "Schedules to compare",
    ordered_schedule_names(),
    key="sched.names",
    format_func=lambda n: CATALOGUE[n].label,
    placeholder="Pick one or more schedules",
    help="The first six are the schedules of the training notes; then every transformers "
    "lr_scheduler_type, then the torch.optim.lr_scheduler classes.",
)
controls, output = st.columns([5, 7], gap="large")
views, kwargs_by_name, errors = [], {}, {}
with controls:
    learning_rate, plan = run_form()
    ok = isinstance(plan, StepPlan) and plan.total_steps <= MAX_TOTAL_STEPS
    for name in names:
        schedule = CATALOGUE[name]
        span = max(1, span_of(schedule, plan.total_steps, plan.warmup_steps)) if ok else None
        with st.expander(schedule.label):
            # The column is narrow: stack the formula's parts and shrink the longest ones to fit.
            size = (
                r"\scriptsize " if len(schedule.latex) > 150 else r"\footnotesize " if len(schedule.latex) > 80 else ""
            )
            st.latex(size + stacked_formula(schedule.latex))
            st.markdown(schedule.explanation)
            if schedule.metric_driven:
                st.info(
                    "The LR reacts to the evaluation loss, so no curve can be known in advance. "
                    "The line shows the run without evaluations, where the LR stays at learning_rate.",
                    icon=":material/info:",
                )
            try:
                kwargs_by_name[name] = ui.schedule_form(schedule, span)
                if ok:
                    views.append(
                        ui.cached_view(name, learning_rate, plan.total_steps, plan.warmup_steps, kwargs_by_name[name])
                    )
            except FieldError as err:
                errors[name] = err
                ui.show_error(err)

with output:
    if isinstance(plan, FieldError):
        ui.show_error(plan)
        st.stop()
    show_plan(plan)
    if plan.total_steps > MAX_TOTAL_STEPS:
        field = "num_train_epochs" if plan.epoch_based else "max_steps"
        ui.show_error(
            FieldError(
                field,
                f"{plan.total_steps:,} updates is more than this page draws ({MAX_TOTAL_STEPS:,}); shorten the run",
            )
        )
        st.stop()
    if plan.warmup_steps >= plan.total_steps:
        ui.show_error(
            FieldError(
                "warmup_steps",
                f"the warmup ({plan.warmup_steps:,} updates) is as long as the whole run ({plan.total_steps:,} "
                "updates) or longer, so the LR never gets past the ramp. Lower warmup_steps",
            )
        )
    for err in errors.values():
        ui.show_error(err, prefix="**Not drawn** · ")
    if not names:
        st.info("Pick at least one schedule on the left to draw its curve.", icon=":material/arrow_back:")
        st.stop()

    head_col, toggle_col = st.columns([3, 1])
    head_col.subheader("LR at each optimizer update")
    log_y = toggle_col.toggle(
        "Log scale", key="sched.log_y", help="Zeros cannot be shown on a log scale and are left out."
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

    if views:
        st.subheader("What the trainer will do")
        st.dataframe(
            [summary_row(v) for v in views],
            hide_index=True,
            width="stretch",
            column_config={
                "updates": st.column_config.NumberColumn(format="localized"),
                **{c: st.column_config.NumberColumn(format="%.4g") for c in LR_COLUMNS},
            },
        )
        grouped: dict[tuple[str, str], list[str]] = {}
        for v in views:
            for note in trainer_notes(v, learning_rate):
                grouped.setdefault(note, []).append(v.name)
        ui.show_notes((level, f"**{', '.join(who)}** · {text}") for (level, text), who in grouped.items())

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
