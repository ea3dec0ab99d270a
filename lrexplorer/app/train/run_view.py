"""The Train page once a run exists (`?run=ID`): live charts, progress, log and Stop while it runs;
final metrics, the saved model and a chat with it (`run_chat`) when it has ended.

The page is drawn by full script runs only, and only when the run changed: a small fragment
(`follow`, no visible output) polls the run's server-wide `RunFeed` and reruns the page when the
snapshot's version differs from the one drawn. Every view polls, so a stopped run that is resumed
elsewhere, or a live run that ends, switches view by itself. While nothing changes the fragment's
interval doubles, from `FASTEST_S` (2 s) to `SLOWEST_S` (5 s); each poll costs a few file stats, shared by all
viewers, whatever the run's length.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from lrexplorer.app.common import roles
from lrexplorer.app.common.run_actions import feeds, request_stop
from lrexplorer.app.common.run_chat import chat_panel
from lrexplorer.app.common.run_state import load_form
from lrexplorer.app.common.schedule_match import schedule_panel
from lrexplorer.app.figures import run_curves as rc
from lrexplorer.app.pages import page_link
from lrexplorer.core.units import format_duration
from lrexplorer.runs import launcher
from lrexplorer.runs.folder import health, index, lock, store
from lrexplorer.runs.folder.feed import Snapshot
from lrexplorer.runs.folder.peak import peak_details, peak_text
from lrexplorer.runs.folder.store import read_config
from lrexplorer.runs.folder.summary import (
    duration_s,
    eta_s,
    final_metrics,
    model_folder,
    predicted_lr,
    progress,
)
from lrexplorer.runs.imported import is_imported

# Polling interval right after a change. Redrawing the page with its five live charts once a second costs the
# viewer's browser about half a core (bench/viewers_train.py), which a CPU run next door feels;
# every two seconds halves that and still reads as live.
FASTEST_S = 2.0
SLOWEST_S = 5.0  # the longest interval while nothing changes: a stopped run resumed elsewhere shows within it
IDLE_POLLS = 3  # polls without a change before the interval doubles
STATE_ICONS = {
    "queued": ":material/schedule:",
    "running": ":material/directions_run:",
    "completed": ":material/check_circle:",
    "stopped": ":material/stop_circle:",
    "failed": ":material/error:",
}


def build_figures(snap: Snapshot) -> dict[str, Any]:
    """The five live figures of a snapshot (built once per snapshot version for all viewers)."""
    config = read_config(snap.run_dir)
    predicted = predicted_lr(snap.run_dir, snap.status.get("max_steps"))
    return {
        "loss": rc.loss_figure(snap.train, snap.eval),
        "lr": rc.lr_figure(snap.train, predicted),
        "grad": rc.grad_norm_figure(snap.train, config.get("max_grad_norm")),
        "throughput": rc.throughput_figure(snap.train),
        "memory": rc.memory_figure(snap.train, snap.memory_label),
    }


def status_line(snap: Snapshot) -> None:
    state = snap.state
    message = str(snap.status.get("message") or "")
    first = message.splitlines()[0] if message else ""
    stopping = snap.active and store.stop_requested(snap.run_dir)
    # An ended run's message is shown in full (coloured by outcome) under the charts, not twice.
    detail = f" · {first}" if first and snap.active else ""
    text = f"**{state}**" + (" · stop requested, finishing the current step" if stopping else "") + detail
    st.markdown(f"{STATE_ICONS.get(state, ':material/help:')} {text}")


def progress_bar(snap: Snapshot) -> None:
    status = snap.status
    done, total = status.get("global_step") or 0, status.get("max_steps")
    eta = eta_s(snap.train["step"], snap.train["time"], status)
    waiting = (
        "starts when the device is free"
        if snap.state == "queued"
        else "loading model and data"
        if snap.active
        else "ended before its first step"
    )
    parts = [f"step {done:,} of {total:,}" if total else waiting]
    if total:
        parts.append(f"{progress(status):.0%}")
    if eta is not None:
        parts.append(f"about {format_duration(eta)} left")
    if status.get("started_at"):
        parts.append(f"elapsed {format_duration(duration_s(status))}")
    st.progress(progress(status), text=" · ".join(parts))


def latest_metrics(snap: Snapshot) -> None:
    train = snap.train
    cols = st.columns(5)
    for col, (label, column, fmt) in zip(
        cols,
        (
            ("loss", "loss", "{:.4f}"),
            ("learning rate", "learning_rate", "{:.3g}"),
            ("grad norm", "grad_norm", "{:.3g}"),
            ("tokens/s", "tokens_per_s", "{:,.0f}"),
            ("epoch", "epoch", "{:.2f}"),
        ),
    ):
        values = train[column][np.isfinite(train[column])]
        col.metric(label, fmt.format(values[-1]) if values.size else "—")


# No toolbar: it covered the legends; dragging still zooms and a double click resets.
CHART_CONFIG = {"displayModeBar": False}


def charts(figures: dict[str, Any]) -> None:
    top = st.columns([3, 2])
    for col, name in (*zip(top, ("loss", "lr")), *zip(st.columns(3), ("grad", "throughput", "memory"))):
        with col:
            st.plotly_chart(figures[name], width="stretch", key=f"live.{name}", config=CHART_CONFIG)


def panel(snap: Snapshot) -> None:
    """Everything about the run that changes while it trains."""
    status_line(snap)
    progress_bar(snap)
    if snap.active:
        stopping = store.stop_requested(snap.run_dir)
        if st.button(
            "Stop" if not stopping else "Stopping…",
            key="live.stop",
            icon=":material/stop:",
            disabled=stopping or not roles.can_act(),
            help="Stop after the current optimizer step; a checkpoint is saved so the run can be resumed.",
        ) and not roles.refuse_if_viewer("Stopping a run"):
            request_stop(snap.run_dir)
            st.toast("Stop requested: the run stops after its current step.", icon=":material/stop:")
        latest_metrics(snap)  # an ended run shows its final metrics below instead
    if snap.points or snap.active:  # a run that failed before its first step has nothing to chart
        charts(feeds().get(snap.run_dir).derived("figures", snap, build_figures))
    with st.expander("Log (last lines of train.log)", expanded=snap.state == "failed"):
        st.code(snap.log_tail or "(empty)", language="text")


def _follow(run_dir: str, drawn: int) -> None:
    """Rerun the page when the run changed since it was drawn; poll less often while it does not."""
    every_key, idle_key = f"live.every.{run_dir}", f"live.idle.{run_dir}"
    if st.session_state.pop(f"live.drawing.{run_dir}", False):
        return  # called by the page's own run, which has just drawn the newest snapshot
    snap = feeds().get(Path(run_dir)).poll()
    if snap.version != drawn:
        st.session_state[every_key], st.session_state[idle_key] = FASTEST_S, 0
        st.rerun()
    idle = st.session_state.get(idle_key, 0) + 1
    st.session_state[idle_key] = idle
    every = st.session_state.get(every_key, FASTEST_S)
    if idle >= IDLE_POLLS and every < SLOWEST_S:
        # The interval is set when the page draws the fragment: one redraw per doubling.
        st.session_state[every_key], st.session_state[idle_key] = min(2 * every, SLOWEST_S), 0
        st.rerun()


def follow(run_dir: Path, drawn: int) -> None:
    """Start polling the run at the session's current interval (see `_follow`)."""
    every = st.session_state.get(f"live.every.{run_dir}", FASTEST_S)
    st.session_state[f"live.drawing.{run_dir}"] = True
    st.fragment(_follow, run_every=every)(str(run_dir), drawn)


def find(ref: str) -> Path | None:
    root = store.runs_dir()
    try:
        return index.find_run(ref, root)
    except (store.RunNotFound, ValueError):
        st.error(
            f"No run {ref!r} in {root}. It may have been deleted, or the app uses another runs directory "
            "(LRX_RUNS_DIR).",
            icon=":material/search_off:",
        )
        return None


def run_view(ref: str) -> None:
    """The page for `?run=ref`: a reload or a second browser lands here on the same run."""
    run_dir = find(ref)
    nav = st.container(horizontal=True, vertical_alignment="center")
    if nav.button("New run", key="live.new", icon=":material/add:"):
        del st.query_params["run"]
        st.rerun()
    if run_dir is None:
        return
    if nav.button(
        "New run from this config",
        key="live.clone",
        icon=":material/content_copy:",
        help="Open the form filled with this run's settings.",
    ):
        load_form(read_config(run_dir))
        del st.query_params["run"]
        st.rerun()
    page_link("runs", container=nav, label="All runs", icon=":material/list:")
    st.subheader(f"Run {run_dir.name}")
    problem = health.run_problem(run_dir)
    if problem is not None:
        st.error(f"This run's folder is broken: {problem}", icon=":material/broken_image:")
        return
    config = read_config(run_dir)
    st.caption(
        f"{config.get('model', '?')} on {config.get('dataset', '?')} · lr {config.get('learning_rate', '?')} · "
        f"{config.get('lr_scheduler_type', '?')}{processes_text(config)} · folder {run_dir}"
    )
    snap = feeds().get(run_dir).poll()
    attention = snap.status.get("attention")
    if isinstance(attention, dict):
        st.caption(
            f"Attention: `{attention.get('implementation')}`, kernel that ran: {attention.get('kernel')} "
            f"(from {attention.get('how')})."
        )
    panel(snap)
    if not snap.active:
        finished(snap)
    follow(run_dir, snap.version)


def processes_text(config: dict) -> str:
    """How many processes train the run and how they share it; empty for one process."""
    count = int(config.get("num_processes") or 1)
    if count <= 1:
        return ""
    how = "FSDP2" if config.get("fsdp") else f"DeepSpeed {config['deepspeed']}" if config.get("deepspeed") else "DDP"
    return f" · {count} processes ({how}; the charts show rank 0)"


def finished(snap: Snapshot) -> None:
    """Final status, metrics, where the model is, resume for a stopped run, and the chat."""
    state, message = snap.state, str(snap.status.get("message") or "")
    head, _, rest = message.partition("\n")
    {"completed": st.success, "stopped": st.warning, "failed": st.error}.get(state, st.info)(
        head or state, icon=STATE_ICONS.get(state)
    )
    if rest.strip():
        st.code(rest, language="text")
    metrics = final_metrics(snap.status, snap.train, snap.eval, snap.summary)
    cols = st.columns(len(metrics))
    for col, (label, value) in zip(cols, metrics.items()):
        col.metric(label, value)
    peak_memory(snap.run_dir)
    schedule_panel(snap.run_dir)
    if is_imported(snap.run_dir):
        st.caption(
            ":material/upload_file: An imported run: its logs only. It cannot be resumed here, and its model "
            "stayed where it was trained."
        )
        return
    folder = model_folder(snap.run_dir)
    resumable = state in ("stopped", "failed") and store.checkpoints(snap.run_dir)
    resume_clicked = resumable and st.button(
        "Resume from the last checkpoint", key="live.resume", icon=":material/play_arrow:", disabled=not roles.can_act()
    )
    if resume_clicked and not roles.refuse_if_viewer("Resuming a run"):
        resume(snap.run_dir)
    if folder is None:
        st.caption("No model was saved (the run ended before its first checkpoint).")
        return
    if folder.name == store.FINAL:
        st.markdown(f"The trained model and tokenizer are saved in `{folder}`.")
    else:
        st.markdown(f"The newest checkpoint ({folder.name}) is saved in `{folder}`.")
    chat_panel(snap.run_dir, read_config(snap.run_dir))


def peak_memory(run_dir: Path) -> None:
    """The pre-flight's predicted peak beside the peak the run really used, and what each figure is."""
    record = store.read_memory_record(run_dir)
    if record:
        st.metric("predicted / measured peak", peak_text(record), help=" ".join(peak_details(record)))
        if record.get("warning"):
            st.warning(f"Memory: {record['warning']}.", icon=":material/memory:")


def resume(run_dir: Path) -> None:
    try:
        launcher.resume_run(run_dir)
    except (RuntimeError, FileNotFoundError, lock.DeviceBusy, OSError) as exc:
        st.error(f"Cannot resume: {exc}", icon=":material/error:")
        return
    st.rerun()
