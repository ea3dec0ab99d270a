"""Runs page: every run in the runs folder; compare, resume, delete and export them.

Layout only: the table, comparison and actions come from `lrexplorer.runs_view`, which reads the
run folders through `lrexplorer.runs.store` and the shared live feeds.
"""

from __future__ import annotations

import streamlit as st

from lrexplorer import runs_view
from lrexplorer.runs import store

st.title("Runs")
st.caption(f"Every run in `{store.runs_dir()}` (set LRX_RUNS_DIR to use another folder), newest first.")
runs = runs_view.all_runs()
if not runs:
    st.info("No runs yet. Start one on the Train page.", icon=":material/info:")
    st.page_link("app_pages/train.py", label="Go to Train", icon=":material/play_arrow:")
    st.stop()
runs_view.runs_table(runs)
st.subheader("Compare")
runs_view.compare(runs)
st.subheader("Manage a run")
runs_view.manage(runs)
