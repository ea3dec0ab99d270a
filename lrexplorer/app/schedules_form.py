"""The Schedules page's form: the learning rate, the warmup and the run's length, seeded from the URL.

The parsing and checks live in `lrexplorer.schedule_form` and `lrexplorer.steps`; this module only lays
out the widgets and returns what they hold.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from ..fields import FieldError
from ..params import translate
from ..schedule_form import DEFAULT_SCHEDULES, preset_from_query
from ..steps import StepPlan, plan_steps

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
