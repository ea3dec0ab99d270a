"""The one way a `Field` becomes a widget, on every page: the run form (Train, Tune), the Memory and
Schedules forms and every scheduler's arguments.

- `field_input`: one input per field, chosen by its kind (a toggle for true/false, a drop-down for a
  choice or a nullable true/false, a number box, text for JSON and lists), labelled with the field's
  name and explained by `help_text`.
- `help_text`: the field's help, what it allows, what it starts from (and the library's default where
  lrexplorer picks another, or what an empty box means), and its former names.
- `to_widget` / `from_widget`: a catalogue value as a widget holds it, and back.
- `query_text` / `query_value` / `query_values`: a widget value in a URL, and a link's values read back
  (old names under their current one, each value converted by its field), for the pages' `PageState`.

Numbers are not clamped by the widgets: an out-of-range value reaches the field's `convert` (or the run
spec), whose error names the field, so the pages and the CLI refuse the same things in the same words.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import streamlit as st

from lrexplorer.catalogues.params import CATALOGUE, renamed_from, translate
from lrexplorer.core.fields import Field, FieldError

# Arrow steps of the number inputs (typing any value still works).
STEPS = {
    "learning_rate": 1e-5,
    "adam_epsilon": 1e-9,
    "weight_decay": 0.01,
    "adam_beta1": 0.01,
    "adam_beta2": 0.001,
    "max_grad_norm": 0.1,
    "num_train_epochs": 0.5,
    "warmup_steps": 1.0,
    "logging_steps": 1.0,
    "save_steps": 10.0,
    "eval_steps": 10.0,
    "lora_dropout": 0.05,
    "max_length": 256,
    "lora_r": 8,
}
NULL_LABEL = "null"


def show(value: Any) -> str:
    """A value as a help text or a table shows it: null, true, 5e-05, [30, 80]."""
    if value is None:
        return NULL_LABEL
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return str(value)


def help_text(field: Field, tool: str | None = None, span: int | None = None, empty: bool = False) -> str:
    """The tooltip of `field`'s input: its help and what it allows; then what it starts from for `tool` (with
    the library's default where lrexplorer picks another), or, for an input whose empty box means "not
    passed" (`empty`: a scheduler's argument), what that gives for a schedule spanning `span` updates; then
    its former names."""
    parts = [field.help, f"Allowed: {field.allowed()}."]
    if not empty:
        start = field.default_for(tool) if tool is not None else field.default
        parts.append(f"Default: {show(start)}.")
        if tool is not None and field.hf_default != start:
            parts.append(f"The library's own default: {show(field.hf_default)}.")
    elif field.derived_from_lr is not None:
        parts.append(f"Empty: {field.empty_means()}.")
    elif field.default is None and field.derived is not None:
        here = f" ({show(field.run_default(span))} for this run)" if span is not None else ""
        parts.append(f"Empty: {field.empty_means()}{here}.")
    elif field.kind not in ("bool", "choice"):
        parts.append(
            f"Empty: the default, {show(field.default)}." if field.default is not None else "Empty: not passed."
        )
    if old := renamed_from(field.name):
        parts.append(f"Formerly: {', '.join(old)}.")
    return "\n\n".join(parts)


# -- catalogue value <-> widget value ----------------------------------------------------------------------
def to_widget(field: Field, value: Any, options: Sequence[str] | None = None) -> Any:
    """What the input of `field` holds for the value `value` (`options`: the input is a pick list)."""
    if field.kind == "bool":
        return value if field.nullable else bool(value)
    if field.kind in ("int", "float"):
        if value is None:
            return None
        return int(value) if field.kind == "int" else float(value)
    if field.kind == "json":
        return "" if value is None else json.dumps(value)
    if field.kind == "str_list":
        if options is not None:
            return [] if value is None else list(value)
        return "" if value is None else ",".join(value) if isinstance(value, (list, tuple)) else str(value)
    if field.kind == "int_list":
        return "" if value is None else ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return "" if value is None else value


def from_widget(field: Field, value: Any) -> Any:
    """The raw value an input holds, as the field's `convert` (or `RunSpec.from_dict`) reads it: an empty
    text box is the field's null (or its default, for a JSON object), an empty pick list is None."""
    if isinstance(value, str) and field.kind in ("str", "str_list", "json") and not value.strip():
        return None if field.nullable else ("{}" if field.kind == "json" else value)
    if isinstance(value, list) and not value:
        return None
    return value


def query_text(value: Any) -> str:
    """A widget value as a URL parameter: what `query_value` reads back to the same value."""
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)  # short where it reads back as the same float
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return show(value)


def query_value(field: Field, text: str, options: Sequence[str] | None = None) -> Any:
    """A URL parameter as the widget value of `field`; FieldError naming the field when it is refused."""
    if field.kind in ("str", "int_list") and options is None:
        return text  # free text, checked where the form's values are converted
    return to_widget(field, field.convert(text), options)


def query_values(
    query: Mapping[str, Any], known: Iterable[str], lists: Iterable[str] = ()
) -> tuple[dict[str, Any], list[str], list[str]]:
    """(widget values, notes, problems) of a link's query: old names read under their current one (each with
    a note), every value converted by its field (`lists`: fields whose input is a multi-select); what cannot
    be used is a problem, never an exception."""
    translated, notes, errors = translate(query, tuple(known))
    problems = [f"link parameter `{e.field}` ignored: {e.problem}" for e in errors]
    values = {}
    for name, raw in translated.items():
        field = CATALOGUE[name]
        try:
            values[name] = to_widget(field, field.convert(raw), [] if name in set(lists) else None)
        except FieldError as exc:
            problems.append(f"link parameter `{name}` ignored: {exc.problem}")
    return values, [f"Link: {note}" for note in notes], problems


def changed(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, str]:
    """The query naming the values that differ from their defaults."""
    return {name: query_text(value) for name, value in values.items() if value != defaults.get(name)}


# -- the widget --------------------------------------------------------------------------------------------
def field_input(
    field: Field,
    bound: Mapping[str, Any],
    *,
    tool: str | None = None,
    container: Any = st,
    options: Sequence[str] | None = None,
    disabled: bool = False,
    as_text: bool = False,
    placeholder: str | None = None,
    span: int | None = None,
    extra_help: str = "",
) -> Any:
    """One input for `field`, made the view of a page setting by `bound` (`PageState.bind`: its key and the
    callback keeping its edits); returns what it holds.

    `options` makes a text field a pick list that also takes a typed value (model, dataset) and a list field
    a multi-select; `as_text` makes a number a text box, for arguments whose empty box means "not passed"
    (a scheduler's), where a typed value is checked by the field, not by the box.
    """
    tip = help_text(field, tool, span, empty=as_text) + (f"\n\n{extra_help}" if extra_help else "")
    common = {"help": tip, "disabled": disabled, **bound}
    if field.kind == "bool" and not field.nullable:
        return container.toggle(field.name, **common)
    if field.kind == "bool":
        return container.selectbox(
            field.name, [None, True, False], format_func=lambda v: NULL_LABEL if v is None else str(v).lower(), **common
        )
    if field.kind == "choice":
        return container.selectbox(field.name, field.choice_values(), format_func=lambda v: v or "(off)", **common)
    if field.kind == "str_list" and options is not None:
        return container.multiselect(field.name, options, placeholder="not set", **common)
    if field.kind == "str" and options is not None:
        current = st.session_state.get(bound["key"])
        choices = [*options, *([current] if current and current not in options else [])]
        return container.selectbox(field.name, choices, accept_new_options=True, **common)
    if field.kind in ("int", "float") and not as_text:
        integer = field.kind == "int"
        step = STEPS.get(field.name, 1 if integer else 0.1)
        return container.number_input(
            field.name,
            step=int(step) if integer else float(step),
            format="%d" if integer else "%g",
            placeholder=placeholder or (NULL_LABEL if field.nullable else None),
            **common,
        )
    if placeholder is None and field.kind == "json":
        placeholder = NULL_LABEL if field.nullable else "{}"
    elif placeholder is None and field.nullable:
        placeholder = NULL_LABEL
    return container.text_input(field.name, placeholder=placeholder, **common)
