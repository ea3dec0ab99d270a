"""Small Streamlit helpers shared by the pages: cached curve views, errors and notes, and the cached
detections of the hardware and the libraries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import streamlit as st

from lrexplorer.app.common.schedule_view import CurveView, view_curve
from lrexplorer.core.facts import Facts, detect_facts
from lrexplorer.core.fields import FieldError
from lrexplorer.core.hardware import Hardware, detect


@st.cache_data(max_entries=256, show_spinner=False)
def cached_view(
    name: str, learning_rate: float, total_steps: int, warmup_steps: int, kwargs: dict[str, Any]
) -> CurveView:
    """view_curve, cached per argument set: moving one schedule's slider recomputes only that curve."""
    return view_curve(name, learning_rate, total_steps, warmup_steps, kwargs)


MISSING = "—"


def cell(value: Any, fmt: str = "{}") -> str:
    """A table cell: the value formatted, or a dash where there is none (st.dataframe would write "None")."""
    return MISSING if value is None else fmt.format(value)


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
