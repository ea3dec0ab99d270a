"""The Train page before Start: the run form on the left; on the right what `preflight` says about the spec
(its updates and LR curve, memory, duration, data lengths, warnings) and Start."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from lrexplorer.app.common import roles
from lrexplorer.app.common.run_form import form, show_field_errors
from lrexplorer.app.common.run_state import QUEUE, RUN_FORM, load_form
from lrexplorer.app.common.widgets import cached_facts, cached_hardware
from lrexplorer.app.pages import page_link
from lrexplorer.app.train.data_view import data_section
from lrexplorer.app.train.preflight import show_duration, show_lengths, show_memory, show_plan
from lrexplorer.catalogues.params import FieldError
from lrexplorer.frontend.preflight import Preflight, preflight
from lrexplorer.knowledge.lab_folder import labs_dir
from lrexplorer.runs import launcher
from lrexplorer.runs.folder import index, lock, store


def show_warnings(items: list[tuple[str, str]]) -> None:
    for level, text in items:
        {"error": st.error, "warning": st.warning}.get(level, st.info)(
            text, icon={"error": ":material/block:", "warning": ":material/warning:"}.get(level, ":material/info:")
        )


def start(pf: Preflight, queue: bool) -> None:
    """Launch the run and put its id in the URL; errors are shown, never raised."""
    if pf.spec is None:
        return
    try:
        run_dir = launcher.start_run(pf.spec, store.runs_dir(), queue=queue)
    except FieldError as exc:
        show_field_errors(exc.errors)
        return
    except lock.DeviceBusy as exc:
        st.error(str(exc), icon=":material/block:")
        busy_holder(exc)
        return
    except (OSError, ValueError) as exc:
        st.error(f"Could not start the run: {exc}", icon=":material/error:")
        return
    st.query_params["run"] = run_ref(run_dir)
    st.rerun()


def busy_holder(exc: lock.DeviceBusy) -> None:
    """Where the run holding the device can be stopped: its page when it is one of this app's runs; else (a
    run of another checkout or runs folder, a knowledge lab) the command that stops it."""
    holder = exc.holder.get("run_dir")
    if not holder:
        return
    holder_dir = Path(holder)
    try:
        mine = index.find_run(holder_dir.name, store.runs_dir()).resolve() == holder_dir.resolve()
    except (store.RunNotFound, ValueError, OSError):
        mine = False
    if mine:
        page_link(
            "train",
            label=f"Open the run that holds the {exc.device}",
            query_params={"run": run_ref(holder_dir)},
            icon=":material/open_in_new:",
        )
        return
    if holder_dir.parent.resolve() == labs_dir().resolve():
        page_link(
            "knowledge",
            label=f"A knowledge lab holds the {exc.device}: stop it on the Knowledge lab page",
            query_params={"lab": holder_dir.name},
            icon=":material/lightbulb:",
        )
        return
    pid = exc.holder.get("pid", "PID")
    st.caption(
        f"That run is not in this app's runs folder ({store.runs_dir()}): it was started from another checkout or "
        f"runs folder, so it is not on the Runs page. Stop it where it was started, or from here with\n\n"
        f"`lrexplorer runs stop {holder_dir.name} --runs_dir {holder_dir.parent}`\n\n"
        f"(it stops after its current step and keeps a checkpoint); if that folder is gone, `kill {pid}` ends it."
    )


def run_ref(run_dir: Path) -> str:
    """The ?run= value of a run: its id (a run outside the runs directory is registered under it)."""
    return store.run_id_of(Path(run_dir))


def form_view() -> None:
    """The Train page before Start: the form on the left, what it will do on the right."""
    facts, hw = cached_facts(), cached_hardware()
    left, right = st.columns([9, 10], gap="large")
    with left:
        top = st.columns([3, 1.2], vertical_alignment="center")
        top[0].caption("Defaults train the built-in model on built-in data: Start works offline, on a CPU.")
        if top[1].button(
            "Reset", key="train.reset", help="Back to lrexplorer's defaults", icon=":material/restart_alt:"
        ):
            load_form(None)
            st.rerun()
        raw = form()
    with right:
        unreadable = roles.unreadable_references(raw)
        if unreadable:  # a view-only session: nothing read from this machine's files, whatever was typed
            show_field_errors(unreadable)
            return
        pf = preflight(raw, facts, hw)
        if pf.errors:
            show_field_errors(pf.errors)
        if pf.spec is not None:
            show_plan(pf)
            show_memory(pf, hw)
            show_duration(pf)
            show_lengths(pf)
            data_section(pf)
            show_warnings(pf.warnings)
        queue = st.toggle(
            "Queue if the device is busy",
            help="Wait for the running job to end instead of refusing to start.",
            **RUN_FORM.bind(QUEUE),
        )
        clicked = st.button(
            "Start training",
            type="primary",
            key="train.start",
            disabled=not pf.ok or not roles.can_act(),
            icon=":material/play_arrow:",
        )
        if clicked and not roles.refuse_if_viewer("Starting a run"):
            start(pf, queue)
