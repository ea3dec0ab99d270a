"""The Train page: launch a real fine-tuning run from a form, then watch it learn at `?run=ID`.

The form and pre-flight are `form`, the live and finished views `run_view`; the form's values are the
page's settings (`RUN_FORM`: the `train.` namespace and the address); the run itself is a
subprocess writing its folder (`lrexplorer.runs`).
"""

from __future__ import annotations

import streamlit as st

from lrexplorer.app.common.run_state import RUN_FORM, RUN_VIEW
from lrexplorer.app.pages import page_link
from lrexplorer.app.train.form import form_view
from lrexplorer.app.train.run_view import run_view
from lrexplorer.runs.folder import index, store


def render() -> None:
    st.title("Train")
    notes, problems = RUN_FORM.begin()
    ref = st.query_params.get(RUN_VIEW)
    if ref:
        run_view(ref)
    else:
        st.caption(
            "A short, real fine-tuning run (transformers + TRL SFTTrainer) in its own process. The form is the "
            "parameter catalogue: every field is a TrainingArguments / SFTConfig name, with its help text."
        )
        for note in notes:
            st.info(note, icon=":material/history:")
        for problem in problems:
            st.warning(problem, icon=":material/link_off:")
        active_runs()
        form_view()


def active_runs() -> None:
    """Point to the runs that are queued or training, so reopening the page from the sidebar finds them."""
    for status in index.list_runs(store.runs_dir()):
        if status.get("state") not in store.ACTIVE:
            continue
        done, total = status.get("global_step") or 0, status.get("max_steps")
        where = f"step {done:,} of {total:,}" if total else str(status.get("message") or "starting")
        box = st.container(border=True, horizontal=True, vertical_alignment="center")
        box.markdown(f":material/directions_run: Run **{status['run_id']}** is {status['state']} · {where}")
        page_link(
            "train",
            container=box,
            label="Watch it",
            query_params={"run": status["run_id"]},
            icon=":material/monitoring:",
        )
