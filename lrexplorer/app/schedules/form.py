"""The Schedules page's settings and form: the schedules compared, the learning rate, the warmup, the run's
length and every schedule's own arguments.

The settings are the page's `SCHEDULES` state (namespace `sched.`, in the address: `schedule`, `lr`,
`warmup`, `steps` as the Guide's links write them, then any other setting by its name, a schedule's
argument as `<schedule>.<argument>`). Every input is generated from its field (`field_widgets`); the
values are converted by the fields and counted by `lrexplorer.runs.steps`, as `lrexplorer schedule`
counts them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import streamlit as st

from lrexplorer.app.common.field_widgets import changed, field_input, query_value, to_widget
from lrexplorer.app.common.page_state import Decoded, PageState
from lrexplorer.app.common.schedule_inputs import (
    DEFAULT_SCHEDULES,
    QUERY_ALIASES,
    collect_kwargs,
    placeholder,
    preset_from_query,
)
from lrexplorer.catalogues.params import CATALOGUE, RENAMED_BY_OLD, SCHEDULE, convert_each, translate
from lrexplorer.core.fields import Field, FieldError, str_to_bool
from lrexplorer.runs.steps import StepPlan, plan_for
from lrexplorer.schedules import CATALOGUE as SCHEDULES_CATALOGUE
from lrexplorer.schedules import Schedule

DIRECT, DATASET = "Set total steps directly", "From dataset size"
MODES = {"steps": DIRECT, "dataset": DATASET}  # the page's `mode` setting in the address
DATASET_FIELDS = (
    "per_device_train_batch_size",
    "num_train_epochs",
    "gradient_accumulation_steps",
    "world_size",
    "num_examples",
)
RUN_FIELDS = ("learning_rate", "warmup_steps", "max_steps", *DATASET_FIELDS, "dataloader_drop_last")
# The run's length has no default a curve can be drawn from (max_steps -1 means "count from the data", whose
# size has none; `lrexplorer schedule` refuses to guess): the page starts from this example run.
EXAMPLE_RUN = {"max_steps": 1000, "num_examples": 10_000}
DATASET_MAX_STEPS = "dataset.max_steps"  # max_steps in the dataset mode, where -1 counts from the epochs
QUERY_NAMES = {"names": "schedule", **{field: short for short, field in QUERY_ALIASES.items()}}
JSON = "_json"  # a schedule's lr_scheduler_kwargs box


def argument(schedule: str, param: str) -> str:
    """The setting of one scheduler argument (namespaced per schedule: two schedules' `gamma` differ)."""
    return f"{schedule}.{param}"


def _argument_default(param: Field) -> Any:
    # Numbers and lists are typed: an empty box is not passed. Switches and choices show their default.
    return param.default if param.kind in ("bool", "choice") else ""


def _defaults() -> dict[str, Any]:
    values: dict[str, Any] = {"names": list(DEFAULT_SCHEDULES), "mode": DIRECT, "log_y": False, "warmup_ratio": None}
    for name in RUN_FIELDS:
        values[name] = to_widget(CATALOGUE[name], EXAMPLE_RUN.get(name, CATALOGUE[name].default_for(SCHEDULE)))
    values[DATASET_MAX_STEPS] = CATALOGUE["max_steps"].default_for(SCHEDULE)
    for schedule in SCHEDULES_CATALOGUE.values():
        for param in schedule.params:
            values[argument(schedule.name, param.name)] = _argument_default(param)
        values[argument(schedule.name, JSON)] = ""
    return values


def _to_query(values: Mapping[str, Any]) -> dict[str, str]:
    out = changed(values, _defaults())
    if "mode" in out:
        out["mode"] = next(short for short, label in MODES.items() if label == values["mode"])
    return {QUERY_NAMES.get(name, name): text for name, text in out.items()}


def _from_query(query: Mapping[str, str]) -> Decoded:
    preset = preset_from_query(query)
    values: dict[str, Any] = {}
    if preset.schedules:
        values["names"] = preset.schedules
    if preset.learning_rate is not None:
        values["learning_rate"] = preset.learning_rate
    if preset.max_steps is not None:
        values["max_steps"] = preset.max_steps
    if preset.warmup_steps is not None:
        values["warmup_steps"] = preset.warmup_steps
    problems = list(preset.problems)
    read_by_preset = {"schedule", *QUERY_ALIASES, *QUERY_ALIASES.values(), *RENAMED_BY_OLD}
    for key, text in query.items():
        if key in read_by_preset:
            continue
        try:
            values.update(_setting(key, text))
        except FieldError as exc:
            problems.append(f"`{key}` {exc.problem}")
    return values, [f"Link: {note}" for note in preset.notes], problems


def _setting(key: str, text: str) -> dict[str, Any]:
    """One setting of the address that is not the run's learning rate, length or warmup."""
    if key == "mode":
        if text not in MODES:
            raise FieldError(key, f"must be one of {', '.join(MODES)}; got {text!r}")
        return {"mode": MODES[text]}
    if key == "log_y":
        try:
            return {"log_y": str_to_bool(text)}
        except ValueError:
            raise FieldError(key, f"must be true or false; got {text!r}") from None
    if key in (*DATASET_FIELDS, "dataloader_drop_last"):
        return {key: query_value(CATALOGUE[key], text)}
    if key == DATASET_MAX_STEPS:
        return {key: query_value(CATALOGUE["max_steps"], text)}
    schedule, _, param = key.partition(".")
    entry = SCHEDULES_CATALOGUE.get(schedule)
    if entry is not None and param == JSON:
        return {key: text}
    fields = {p.name: p for p in entry.params} if entry is not None else {}
    if param not in fields:
        raise FieldError(key, "is not a setting of the Schedules page")
    field = fields[param]
    return {key: field.convert(text, schedule) if field.kind in ("bool", "choice") else text}


SCHEDULES = PageState("schedules", "sched", _defaults, _to_query, _from_query)


def _input(name: str, container: Any = st, setting: str | None = None) -> Any:
    return field_input(CATALOGUE[name], SCHEDULES.bind(setting or name), tool=SCHEDULE, container=container)


def run_form() -> tuple[float, StepPlan | FieldError]:
    """The shared Trainer arguments: the learning rate and the step plan (or the error naming the field)."""
    c1, c2, c3 = st.columns(3)
    raw = {"learning_rate": _input("learning_rate", c1), "warmup_steps": _input("warmup_steps", c2)}
    ratio = c3.number_input(
        "warmup_ratio",
        step=0.01,
        format="%g",
        placeholder="deprecated",
        help="Removed in transformers 5. Still read here as a fraction of the run, so old configs can be checked; "
        "write warmup_steps=<fraction> instead.",
        **SCHEDULES.bind("warmup_ratio"),
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
    mode = st.radio("Length of the run", [DIRECT, DATASET], horizontal=True, **SCHEDULES.bind("mode"))
    if mode == DIRECT:
        return {"max_steps": _input("max_steps")}
    # Long TrainingArguments names go in the wider column so their labels stay on one line.
    c1, c2 = st.columns([3, 2])
    raw = {name: _input(name, (c1, c2)[i % 2]) for i, name in enumerate(DATASET_FIELDS)}
    # Here max_steps keeps its field's meaning: -1 counts from the epochs, a value >= 1 replaces them.
    raw["max_steps"] = _input("max_steps", c2, setting=DATASET_MAX_STEPS)
    raw["dataloader_drop_last"] = _input("dataloader_drop_last")
    return raw


def arguments_form(schedule: Schedule, span: int | None) -> dict[str, Any]:
    """All argument inputs of one schedule in two columns, then the JSON override box.

    Numbers and lists are text boxes that start empty, showing their default (or the value derived from this
    run) greyed out: an empty box is not passed, exactly like leaving it out of lr_scheduler_kwargs, and a
    typed value is checked by its field, whose error names it, rather than clamped by the box. Returns the
    kwargs asked for, each converted by its field; raises FieldError (naming the field) for a value refused.
    """
    values: dict[str, Any] = {}
    # Text fields two by two, then drop-downs, then switches: mixed in one grid they would not line up.
    for kinds in (("float", "int", "int_list"), ("choice",), ("bool",)):
        group = [p for p in schedule.params if p.kind in kinds]
        cols = st.columns(2) if group else []
        for i, param in enumerate(group):
            values[param.name] = field_input(
                param,
                SCHEDULES.bind(argument(schedule.name, param.name)),
                container=cols[i % 2],
                as_text=True,
                placeholder=None if span is None else placeholder(param, span),
                span=span,
                extra_help="Type integers separated by commas." if param.kind == "int_list" else "",
            )
    if not schedule.params:
        st.caption("No arguments of its own: learning_rate and warmup_steps above set the whole curve.")
    json_text = st.text_input(
        "Advanced: lr_scheduler_kwargs as JSON",
        placeholder='{"' + schedule.params[0].name + '": ...}' if schedule.params else "{}",
        help="The same JSON you would pass as TrainingArguments(lr_scheduler_kwargs=...) or "
        "--lr_scheduler_kwargs. Keys given here override the fields above.",
        **SCHEDULES.bind(argument(schedule.name, JSON)),
    )
    return collect_kwargs(schedule, values, json_text)
