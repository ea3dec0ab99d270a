"""Train page: launch a real fine-tuning run from a form, then watch it learn at `?run=ID`.

Layout only: the form and pre-flight come from `lrexplorer.train_view`, the live and finished views
from `lrexplorer.live_view`; the run itself is a subprocess writing its folder (`lrexplorer.runs`).
"""

from __future__ import annotations

import streamlit as st

from lrexplorer import live_view, train_view

st.title("Train")
ref = st.query_params.get("run")
if ref:
    live_view.run_view(ref)
else:
    st.caption(
        "A short, real fine-tuning run (transformers + TRL SFTTrainer) in its own process. The form is the "
        "parameter catalogue: every field is a TrainingArguments / SFTConfig name, with its help text."
    )
    train_view.form_view()
