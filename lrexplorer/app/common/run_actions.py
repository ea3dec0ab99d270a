"""What the Train and Runs pages share about runs: the server-wide feeds that read run folders, and a
Stop that never blocks the page."""

from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st

from lrexplorer.runs import launcher
from lrexplorer.runs.folder.feed import FeedRegistry


@st.cache_resource(show_spinner=False)
def feeds() -> FeedRegistry:
    """The server-wide registry of run feeds: every session and page shares one reader per run."""
    return FeedRegistry()


_STOPPERS: dict[str, threading.Thread] = {}


def request_stop(run_dir: Path) -> None:
    """Ask the worker to stop after its current step, escalating in the background if it does not
    (stop_run waits up to 30 s, then SIGTERM, then SIGKILL): the page never blocks on it."""
    launcher.request_stop(run_dir)
    name = str(run_dir)
    if name not in _STOPPERS or not _STOPPERS[name].is_alive():
        _STOPPERS[name] = threading.Thread(
            target=launcher.stop_run,
            args=(run_dir,),
            kwargs={"grace_s": 30.0},
            daemon=True,
            name=f"stop-{Path(name).name}",
        )
        _STOPPERS[name].start()
