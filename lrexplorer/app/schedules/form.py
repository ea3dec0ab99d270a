"""The Schedules page's form: the learning rate, the warmup and the run's length, seeded from the URL.

Every input is generated from its catalogue field (`field_widgets`); the values are converted by the
fields and counted by `lrexplorer.runs.steps`, as `lrexplorer schedule` counts them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import streamlit as st

from lrexplorer.app.common import field_widgets as fw
from lrexplorer.app.common import widgets
from lrexplorer.app.common.schedule_inputs import DEFAULT_SCHEDULES, preset_from_query
from lrexplorer.catalogues.params import CATALOGUE, SCHEDULE, convert_each, translate
from lrexplorer.core.fields import FieldError
from lrexplorer.runs.steps import StepPlan, plan_for

DIRECT, DATASET = "Set total steps directly", "From dataset size"
PREFIX = "sched."
DATASET_FIELDS = (
    "per_device_train_batch_size",
    "num_train_epochs",
    "gradient_accumulation_steps",
    "world_size",
    "num_examples",
)
# The run's length has no default a curve can be drawn from (max_steps -1 means "count from the data", whose
# size has none; `lrexplorer schedule` refuses to guess): the page starts from this example run.
EXAMPLE_RUN = {"max_steps": 1000, "num_examples": 10_000}
DEFAULTS = {
    "sched.names": list(DEFAULT_SCHEDULES),
    "sched.mode": DIRECT,
    "sched.dataset.max_steps": CATALOGUE["max_steps"].default_for(SCHEDULE),
    "sched.log_y": False,
}


def seed_form() -> None:
    widgets.seed_state(DEFAULTS)
    names = ("learning_rate", "warmup_steps", "max_steps", *DATASET_FIELDS, "dataloader_drop_last")
    fw.seed(PREFIX, SCHEDULE, names, EXAMPLE_RUN)


def apply_url_preset() -> tuple[list[str], list[str]]:
    """Seed widgets from ?schedule=&lr=&steps=&warmup= (or the field names, or their old names) once per
    distinct query, so later edits stick. Returns (notes on old names, problems)."""
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
        st.session_state["sched.query_notes"] = [f"Link: {note}" for note in preset.notes]
        st.session_state["sched.query_problems"] = preset.problems
    return st.session_state.get("sched.query_notes", []), st.session_state.get("sched.query_problems", [])


def _input(name: str, container: Any = st, key: str | None = None) -> Any:
    return fw.field_input(CATALOGUE[name], SCHEDULE, key or PREFIX + name, container)


def run_form() -> tuple[float, StepPlan | FieldError]:
    """The shared Trainer arguments: the learning rate and the step plan (or the error naming the field)."""
    c1, c2, c3 = st.columns(3)
    raw = {"learning_rate": _input("learning_rate", c1), "warmup_steps": _input("warmup_steps", c2)}
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
    raw.update(length_form())
    try:
        values = convert_each(raw)
        # The old warmup_ratio is read as warmup_steps through the catalogue's list of renamed arguments.
        old = {"warmup_ratio": ratio, **({"warmup_steps": raw["warmup_steps"]} if raw["warmup_steps"] else {})}
        translated, notes, problems = translate(old if ratio is not None else {}, ("warmup_steps",))
        if problems:
            raise FieldError.collect(problems)
        plan = plan_for({**values, **translated})
        return values["learning_rate"], replace(plan, notes=tuple(notes))
    except FieldError as err:
        return raw["learning_rate"], err


def length_form() -> dict[str, Any]:
    """Inputs for the run's length, one per field; returns their raw values (converted by the caller)."""
    mode = st.radio("Length of the run", [DIRECT, DATASET], key="sched.mode", horizontal=True)
    if mode == DIRECT:
        return {"max_steps": _input("max_steps")}
    # Long TrainingArguments names go in the wider column so their labels stay on one line.
    c1, c2 = st.columns([3, 2])
    raw = {name: _input(name, (c1, c2)[i % 2]) for i, name in enumerate(DATASET_FIELDS)}
    # Here max_steps keeps its field's meaning: -1 counts from the epochs, a value >= 1 replaces them.
    raw["max_steps"] = _input("max_steps", c2, key="sched.dataset.max_steps")
    raw["dataloader_drop_last"] = _input("dataloader_drop_last")
    return raw
