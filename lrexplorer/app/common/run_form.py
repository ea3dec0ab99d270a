"""The run form: every catalogue field as a widget (`run_state.field_widget`), one expander per catalogue
group. The Train page draws it with its pre-flight and Start (`app/train/form.py`); the Tune page draws it,
under its own widget keys, as the run it tunes."""

from __future__ import annotations

from typing import Any

import streamlit as st

from lrexplorer.app.common.run_form_dist import distributed_section
from lrexplorer.app.common.run_state import field_widget
from lrexplorer.app.common.widgets import cached_facts, cached_hardware
from lrexplorer.catalogues import builtin
from lrexplorer.catalogues.params import GROUPS, Field, by_group

OPEN_GROUPS = ("model-data", "optimisation", "schedule")


def form(prefix: str | None = None) -> dict[str, Any]:
    """The whole form, one expander per catalogue group; returns field -> raw value. `prefix`: the widget
    keys of another page drawing the same values (the Tune page)."""
    raw: dict[str, Any] = {}
    groups = by_group()
    for group, title in GROUPS.items():
        with st.expander(title, expanded=group in OPEN_GROUPS):
            if group == "model-data":
                st.caption(dataset_caption())
            if group == "distributed":
                raw.update(distributed_section(groups[group], cached_facts(), cached_hardware(), prefix))
                continue
            for row in rows_of(groups[group]):
                if len(row) == 1 and len(row[0].name) > LONG_NAME:
                    raw[row[0].name] = field_widget(row[0], prefix)
                    continue
                for col, p in zip(st.columns(2), row, strict=False):
                    with col:
                        raw[p.name] = field_widget(p, prefix)
    return raw


# A name longer than this does not fit half the form's width on one line: it gets the row to itself.
LONG_NAME = 22


def rows_of(fields: list[Field]) -> list[list[Field]]:
    """The fields two by two, except a long name, which takes a whole row (its label is never broken)."""
    rows: list[list[Field]] = []
    pending: list[Field] = []
    for p in fields:
        if len(p.name) > LONG_NAME:
            rows.append([p])
            continue
        pending.append(p)
        if len(pending) == 2:
            rows.append(pending)
            pending = []
    if pending:
        rows.append(pending)
    return rows


def dataset_caption() -> str:
    names = builtin.builtin_datasets()
    described = " ".join(f"**{builtin.PREFIX}{n}**: {builtin.DATASET_DESCRIPTIONS.get(n, '')}" for n in names)
    return f"Built-in model **builtin:tiny** (3.4M parameters, made from a config: no download). {described}"


def show_field_errors(errors: list) -> None:
    for err in errors:
        field = getattr(err, "field", None)
        problem = getattr(err, "problem", str(err))
        st.error(f"**{field}**: {problem}" if field else str(err), icon=":material/error:")
