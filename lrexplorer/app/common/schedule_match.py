"""The schedule a run's logged learning rates follow, on the run's page: recognised in the background (a sparse
log can take tens of seconds), drawn over the logged points, with where the log departs from it.

The result is kept in the run folder (`runs/folder/schedule_match.py`), so it is computed once per log for
every viewer; while it is computed a small fragment polls the job and redraws the page when it is done.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from lrexplorer.app.figures.schedule_match import schedule_match_figure
from lrexplorer.app.pages import page_link
from lrexplorer.runs.folder import schedule_match as sm
from lrexplorer.runs.folder.store import read_config
from lrexplorer.schedules import compute_curve

POLL_S = 2.0


class Jobs:
    """One background recognition at a time for the whole server; a run asked for twice is computed once."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="schedule-match")
        self.running: dict[str, Future] = {}

    def get(self, run_dir: Path) -> Future:
        key = str(run_dir)
        job = self.running.get(key)
        if job is None or job.done():
            job = self.running[key] = self.pool.submit(sm.schedule_match, run_dir)
        return job


@st.cache_resource(show_spinner=False)
def jobs() -> Jobs:
    return Jobs()


def schedule_panel(run_dir: Path) -> None:
    """The recognised schedule of an ended run, or a note while it is being recognised."""
    steps, lrs = sm.logged_lrs(run_dir)
    if not steps:
        return
    st.markdown(
        "**Which schedule the logged learning rates follow**",
        help="An exact search over every catalogue schedule, peak LR and warmup: a schedule is named only if its "
        "curve gives every logged LR (to 1e-12 of the largest). The Trainer logs at step s the LR of update s - 1.",
    )
    result = sm.cached(run_dir)
    if result is None:
        job = jobs().get(run_dir)
        if not job.done():
            st.caption(f":material/hourglass_top: Searching the schedules for {len(steps):,} logged learning rates…")
            st.fragment(_wait, run_every=POLL_S)(str(run_dir))
            return
        result = job.result()
    if result is None:
        st.caption(sm.describe(None))
        return
    draw(run_dir, np.asarray(steps), np.asarray(lrs), result)


def _wait(run_dir: str) -> None:
    if jobs().get(Path(run_dir)).done():
        st.rerun()


def draw(run_dir: Path, steps: np.ndarray, lrs: np.ndarray, result: dict[str, Any]) -> None:
    match, followed = result["match"], result["followed"]
    shown = match or followed
    n = int(result["signature"][-1]) if result.get("signature") else int(steps.max())
    curve = None
    if shown is not None:
        try:
            curve = compute_curve(
                shown["lr_scheduler_type"],
                shown["learning_rate"],
                n,
                shown["warmup_steps"],
                shown["lr_scheduler_kwargs"],
            ).lr
        except Exception:  # noqa: BLE001 - a stored result this version cannot draw: the text still says it
            curve = None
    label = shown["lr_scheduler_type"] if shown else ""
    departs = result["departs_at_step"] if match is None else None
    st.plotly_chart(schedule_match_figure(steps, lrs, curve, label, departs), width="stretch", key="schedule.match")
    text = sm.describe(result)
    if match is not None:
        st.success(f"Recognised: {text}.", icon=":material/query_stats:")
    else:
        st.warning(text[0].upper() + text[1:] + ".", icon=":material/query_stats:")
    if match is not None:
        others = ", ".join(sm.schedule_text(a) for a in result["alternatives"][:3])
        if others:
            st.caption(f"Exactly the same logged values: {others}.")
        said = config_differs(run_dir, match)
        if said:
            st.caption(f":material/info: {said}")
        page_link(
            "schedules",
            label="Open this schedule on the Schedules page",
            icon=":material/show_chart:",
            query_params={
                "schedule": match["lr_scheduler_type"],
                "lr": f"{match['learning_rate']:g}",
                "steps": str(n),
                "warmup": str(match["warmup_steps"]),
            },
        )


def config_differs(run_dir: Path, match: dict[str, Any]) -> str | None:
    """What the run's arguments say, when they name another schedule or peak than the log shows."""
    config = read_config(run_dir)
    name, lr = config.get("lr_scheduler_type"), config.get("learning_rate")
    if name is None and lr is None:
        return None
    if name == match["lr_scheduler_type"] and lr == match["learning_rate"]:
        return None
    return (
        f"The run's arguments say {name or '?'} at learning_rate {lr if lr is not None else '?'}: not what the "
        "log shows (a torch scheduler passed to the Trainer, or arguments that did not reach it)."
    )
