"""The inputs of the run form (the Train page's form, which the Tune page and the Guide's links fill too):
one widget per catalogue field, its key `train.<field>`, its help text (the catalogue's, with the allowed
values and the library default where lrexplorer picks another), and the conversions between a widget's
value and the catalogue's. Numbers are not clamped by the widgets: an out-of-range value reaches `RunSpec`,
whose error names the field, so the page and the CLI refuse the same things with the same words."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from lrexplorer.catalogues import builtin
from lrexplorer.catalogues.params import Field, renamed_from

PREFIX = "train."
SAVED = "train.saved_form"  # widget values kept while the form is not on screen (Streamlit drops widget state)
# Arrow steps of the float fields; typing any value still works.
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
}
NULL_LABEL = "null"


def key(name: str) -> str:
    return PREFIX + name


# -- catalogue value <-> widget value ----------------------------------------------------------------------
def to_widget(p: Field, value: Any) -> Any:
    """What the widget of `p` holds for catalogue value `value`."""
    if p.kind == "bool":
        return value if p.nullable else bool(value)
    if p.kind in ("int", "float"):
        if value is None:
            return None
        return int(value) if p.kind == "int" else float(value)
    if p.kind == "json":
        return "" if value is None else json.dumps(value)
    if p.kind == "str_list":
        return "" if value is None else ",".join(value) if isinstance(value, (list, tuple)) else str(value)
    return "" if value is None else value


def from_widget(p: Field, value: Any) -> Any:
    """The raw value handed to `RunSpec.from_dict` (which converts and checks it)."""
    if isinstance(value, str) and p.kind in ("str", "str_list", "json") and not value.strip():
        return None if p.nullable else ("{}" if p.kind == "json" else value)
    return value


def help_for(p: Field) -> str:
    parts = [p.help, f"Allowed: {p.allowed()}."]
    if p.hf_default != p.default:
        parts.append(f"lrexplorer's default: {p.default!r}; the library's default: {p.hf_default!r}.")
    old = renamed_from(p.name)
    if old:
        parts.append("Formerly: " + ", ".join(old) + ".")
    return "\n\n".join(parts)


def _source_options(p: Field) -> list[str]:
    if p.name == "model":
        return [builtin.PREFIX + name for name in builtin.BUILTIN_MODELS]
    return [builtin.PREFIX + name for name in builtin.builtin_datasets()]


def widget(p: Field, disabled: bool = False) -> Any:
    """One input for one catalogue field; returns its widget value."""
    k, tip = key(p.name), help_for(p)
    if p.name in ("model", "dataset"):
        options = _source_options(p)
        current = st.session_state.get(k)
        if current and current not in options:
            options.append(current)
        return st.selectbox(
            p.name, options, key=k, help=tip + "\n\nPick a built-in or type a path or Hub id.", accept_new_options=True
        )
    if p.kind == "bool" and p.nullable:
        return st.selectbox(
            p.name,
            [None, True, False],
            key=k,
            help=tip,
            format_func=lambda v: NULL_LABEL if v is None else str(v).lower(),
            disabled=disabled,
        )
    if p.kind == "bool":
        return st.checkbox(p.name, key=k, help=tip, disabled=disabled)
    if p.kind == "choice":
        return st.selectbox(
            p.name, list(p.choice_values()), key=k, help=tip, format_func=lambda v: v or "(off)", disabled=disabled
        )
    if p.kind == "int":
        return st.number_input(
            p.name,
            step=1,
            format="%d",
            key=k,
            help=tip,
            placeholder=NULL_LABEL if p.nullable else None,
            disabled=disabled,
        )
    if p.kind == "float":
        return st.number_input(
            p.name,
            step=STEPS.get(p.name, 0.1),
            format="%g",
            key=k,
            help=tip,
            placeholder=NULL_LABEL if p.nullable else None,
            disabled=disabled,
        )
    placeholder = {"json": "{}" if not p.nullable else "null", "str_list": "null (peft's default)"}.get(
        p.kind, NULL_LABEL
    )
    return st.text_input(
        p.name, key=k, help=tip, placeholder=placeholder if p.nullable or p.kind == "json" else None, disabled=disabled
    )
