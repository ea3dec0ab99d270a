"""The run form: every catalogue field as a widget, one expander per catalogue group, kept while the form
is off screen, and filled from a run's config on request. The Train page draws it with its pre-flight and
Start (`app/train/form.py`); the Tune page draws it for the run it tunes; the Guide's links fill it."""

from __future__ import annotations

from typing import Any

import streamlit as st

from lrexplorer.app.common.run_form_dist import distributed_section
from lrexplorer.app.common.run_inputs import SAVED, from_widget, key, to_widget, widget
from lrexplorer.app.common.widgets import cached_facts, cached_hardware
from lrexplorer.catalogues import builtin
from lrexplorer.catalogues.params import CATALOGUE, CATALOGUE_LIST, GROUPS, by_group

OPEN_GROUPS = ("model-data", "optimisation", "schedule")


def seed_form() -> None:
    """Give every widget its first value: the one kept from the last visit, else the catalogue default
    (set through session state, never also through `value=`, which Streamlit warns about)."""
    saved = st.session_state.get(SAVED, {})
    for p in CATALOGUE_LIST:
        k = key(p.name)
        if k not in st.session_state:
            st.session_state[k] = saved.get(k, to_widget(p, p.default))


def load_form(values: dict[str, Any] | None = None) -> None:
    """Fill the form with a run's config (None: the defaults) the next time it is drawn.

    output_dir is left empty: the new run gets its own folder.
    """
    values = values or {}
    st.session_state[SAVED] = {
        key(p.name): to_widget(p, values.get(p.name, p.default) if p.name != "output_dir" else p.default)
        for p in CATALOGUE_LIST
    }
    for p in CATALOGUE_LIST:
        st.session_state.pop(key(p.name), None)


def form() -> dict[str, Any]:
    """The whole form, one expander per catalogue group; returns field -> raw value."""
    seed_form()
    raw: dict[str, Any] = {}
    groups = by_group()
    for group, title in GROUPS.items():
        with st.expander(title, expanded=group in OPEN_GROUPS):
            if group == "model-data":
                st.caption(dataset_caption())
            if group == "distributed":
                raw.update(distributed_section(groups[group], cached_facts(), cached_hardware()))
                continue
            cols = st.columns(2)
            for i, p in enumerate(groups[group]):
                with cols[i % 2]:
                    raw[p.name] = from_widget(p, widget(p))
    st.session_state[SAVED] = {key(n): st.session_state.get(key(n)) for n in CATALOGUE}
    return raw


def dataset_caption() -> str:
    names = builtin.builtin_datasets()
    described = " ".join(f"**{builtin.PREFIX}{n}**: {builtin.DATASET_DESCRIPTIONS.get(n, '')}" for n in names)
    return f"Built-in model **builtin:tiny** (3.4M parameters, made from a config: no download). {described}"


def show_field_errors(errors: list) -> None:
    for err in errors:
        field = getattr(err, "field", None)
        problem = getattr(err, "problem", str(err))
        st.error(f"**{field}**: {problem}" if field else str(err), icon=":material/error:")
