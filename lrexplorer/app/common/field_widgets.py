"""Form inputs generated from catalogue fields, for the pages whose forms are not the Train form.

Each input is labelled with the field's name, explained by the field's help (with what it allows and
the tool's default) and starts from the field's default for that tool; what it holds is converted by
the field, so the pages refuse the same values as the CLI, in the same words. Query parameters go
through the catalogue's list of renamed arguments, so a link with an old name still works.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import streamlit as st

from lrexplorer.catalogues.params import CATALOGUE, renamed_from, translate
from lrexplorer.core.fields import Field, FieldError

# Arrow steps of the number inputs (typing any value still works).
STEPS = {"learning_rate": 1e-5, "warmup_steps": 1.0, "num_train_epochs": 0.5, "max_length": 256, "lora_r": 8}


def help_for(field: Field, tool: str) -> str:
    parts = [field.help, f"Allowed: {field.allowed()}.", f"Default: {show(field.default_for(tool))}."]
    if old := renamed_from(field.name):
        parts.append(f"Formerly: {', '.join(old)}.")
    return "\n\n".join(parts)


def show(value: Any) -> str:
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def seed(prefix: str, tool: str, names: Iterable[str], overrides: Mapping[str, Any] | None = None) -> None:
    """First values of the inputs `prefix + name`: the field's default for `tool` (or `overrides`), leaving
    what the user or a link already set."""
    for name in names:
        field = CATALOGUE[name]
        value = (overrides or {}).get(name, field.default_for(tool))
        st.session_state.setdefault(prefix + name, [] if value is None and field.kind == "str_list" else value)


def field_input(
    field: Field,
    tool: str,
    key: str,
    container: Any = st,
    *,
    options: Sequence[str] | None = None,
    disabled: bool = False,
) -> Any:
    """One input for `field` (its value comes from session state under `key`); returns what it holds."""
    tip = help_for(field, tool)
    if field.kind == "bool":
        return container.toggle(field.name, key=key, help=tip, disabled=disabled)
    if field.kind == "choice":
        return container.selectbox(field.name, field.choice_values(), key=key, help=tip, disabled=disabled)
    if field.kind == "str_list":
        return container.multiselect(
            field.name, options or (), key=key, help=tip, disabled=disabled, placeholder="not set"
        )
    if field.kind in ("int", "float"):
        integer = field.kind == "int"
        step = STEPS.get(field.name, 1 if integer else 0.1)
        return container.number_input(
            field.name,
            step=int(step) if integer else float(step),
            format="%d" if integer else "%g",
            key=key,
            help=tip,
            disabled=disabled,
            placeholder="not set" if field.nullable else None,
        )
    return container.text_input(field.name, key=key, help=tip, disabled=disabled)


def query_values(query: Mapping[str, str], known: Iterable[str]) -> tuple[dict[str, Any], list[str], list[str]]:
    """(values, notes, problems) of a link's query: old names read under their current one (each with a
    note), every value converted by its field; what cannot be used is a problem, never an exception."""
    translated, notes, errors = translate(query, tuple(known))
    problems = [f"link parameter `{e.field}` ignored: {e.problem}" for e in errors]
    values = {}
    for name, text in translated.items():
        try:
            values[name] = CATALOGUE[name].convert(text)
        except FieldError as exc:
            problems.append(f"link parameter `{name}` ignored: {exc.problem}")
    return values, [f"Link: {note}" for note in notes], problems
