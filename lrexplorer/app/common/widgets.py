"""Small Streamlit helpers shared by the pages: widgets generated from schedule catalogue entries,
cached curve views, errors and notes, and the cached detections of the hardware and the libraries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import streamlit as st

from lrexplorer.app.common.schedule_inputs import collect_kwargs, help_text, placeholder
from lrexplorer.app.common.schedule_view import CurveView, view_curve
from lrexplorer.core.facts import Facts, detect_facts
from lrexplorer.core.fields import Field, FieldError
from lrexplorer.core.hardware import Hardware, detect
from lrexplorer.schedules import Schedule


def widget_key(schedule: str, param: str) -> str:
    """Namespaced per schedule, so two schedules with a `gamma` each keep their own value."""
    return f"sched.{schedule}.{param}"


def seed_state(defaults: Mapping[str, Any]) -> None:
    """Give widgets their first value through session state (never through `value=` as well,
    which Streamlit warns about), leaving values the user or a URL preset already set."""
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


def param_widget(schedule: Schedule, param: Field, span: int | None) -> Any:
    """One input for one scheduler argument; returns the raw value (text for numbers and lists).

    Number fields start empty and show their default (or the value derived from this run) as a
    placeholder: an empty field is not passed, exactly like leaving it out of lr_scheduler_kwargs.
    They are text fields with no range limit, so an out-of-range value reaches the engine, whose
    error names the field and the allowed range instead of the value being silently clamped.
    """
    key = widget_key(schedule.name, param.name)
    if span is None:  # the run length is invalid: derived defaults cannot be computed
        tip, hint = f"{param.help}\n\nAllowed: {param.allowed()}.", None
    else:
        tip, hint = help_text(param, span), placeholder(param, span)
    if param.kind == "bool":
        return st.checkbox(param.name, value=bool(param.default), key=key, help=tip)
    if param.kind == "choice":
        return st.selectbox(param.name, param.choices, index=param.choices.index(param.default), key=key, help=tip)
    if param.kind == "int_list":
        tip += "\n\nType integers separated by commas."
    return st.text_input(param.name, key=key, help=tip, placeholder=hint)


def schedule_form(schedule: Schedule, span: int | None) -> dict[str, Any]:
    """All argument widgets of one schedule in two columns, then the JSON override box.

    Returns the kwargs the user asked for, each converted by its field; raises FieldError (naming the
    field) for a value it refuses.
    """
    values: dict[str, Any] = {}
    # Text fields two by two, then drop-downs, then switches: mixed in one grid they would not line up.
    for group in (
        _fields(schedule, ("float", "int", "int_list")),
        _fields(schedule, ("choice",)),
        _fields(schedule, ("bool",)),
    ):
        cols = st.columns(2) if group else []
        for i, param in enumerate(group):
            with cols[i % 2]:
                values[param.name] = param_widget(schedule, param, span)
    if not schedule.params:
        st.caption("No arguments of its own: learning_rate and warmup_steps above set the whole curve.")
    json_text = st.text_input(
        "Advanced: lr_scheduler_kwargs as JSON",
        key=widget_key(schedule.name, "_json"),
        placeholder='{"' + schedule.params[0].name + '": ...}' if schedule.params else "{}",
        help="The same JSON you would pass as TrainingArguments(lr_scheduler_kwargs=...) or "
        "--lr_scheduler_kwargs. Keys given here override the fields above.",
    )
    return collect_kwargs(schedule, values, json_text)


def _fields(schedule: Schedule, kinds: tuple[str, ...]) -> list[Field]:
    return [p for p in schedule.params if p.kind in kinds]


@st.cache_data(max_entries=256, show_spinner=False)
def cached_view(
    name: str, learning_rate: float, total_steps: int, warmup_steps: int, kwargs: dict[str, Any]
) -> CurveView:
    """view_curve, cached per argument set: moving one schedule's slider recomputes only that curve."""
    return view_curve(name, learning_rate, total_steps, warmup_steps, kwargs)


def show_error(err: FieldError, prefix: str = "") -> None:
    st.error(f"{prefix}{err}", icon=":material/error:")


def show_notes(notes: Iterable[tuple[str, str]]) -> None:
    for level, text in notes:
        if level == "warning":
            st.warning(text, icon=":material/warning:")
        else:
            st.info(text, icon=":material/info:")


@st.cache_data(ttl=30, show_spinner=False)
def cached_hardware() -> Hardware:
    # Free GPU memory changes while runs start and stop; 30 s keeps the sidebar fresh but cheap.
    return detect()


@st.cache_data(ttl=60, show_spinner=False)
def cached_facts() -> Facts:
    return detect_facts()
