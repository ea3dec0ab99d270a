"""The Train page: launch a real fine-tuning run from a form, then watch it learn at `?run=ID`.

The form and pre-flight are `train_form`, the live and finished views `run_view`; the run itself is a
subprocess writing its folder (`lrexplorer.runs`).
"""

from __future__ import annotations

import streamlit as st

from .run_view import run_view
from .train_form import form_view


def render() -> None:
    st.title("Train")
    ref = st.query_params.get("run")
    if ref:
        run_view(ref)
    else:
        st.caption(
            "A short, real fine-tuning run (transformers + TRL SFTTrainer) in its own process. The form is the "
            "parameter catalogue: every field is a TrainingArguments / SFTConfig name, with its help text."
        )
        form_view()
