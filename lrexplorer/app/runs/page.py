"""The Runs page: the table of every run, the comparison (overlaid loss and LR, config diff), and
managing one run: open, stop, resume, delete with confirmation, export as Python / YAML / accelerate
command.

Curves come through the same server-wide `RunFeed`s as the Train page, so comparing a run that is
still training reads only its new records. Exports come from `runs.export`, the functions that write
what the launcher runs. The runs compared, the smoothing and the run managed are the page's `RUNS` state
(in the address as `compare`, `smooth` and `run`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from lrexplorer.app.common import roles
from lrexplorer.app.common.page_state import Decoded, PageState
from lrexplorer.app.common.run_actions import feeds, request_stop
from lrexplorer.app.common.widgets import cached_facts, cell
from lrexplorer.app.figures import run_curves as rc
from lrexplorer.app.pages import page_link
from lrexplorer.app.runs.import_run import import_control, import_notes, imported_panel
from lrexplorer.app.runs.merge import merge_panel
from lrexplorer.catalogues import builtin
from lrexplorer.core.fields import FieldError, str_to_bool
from lrexplorer.runs import launcher
from lrexplorer.runs.exports.bundle import INITIAL_MODEL, zip_bundle
from lrexplorer.runs.exports.script import (
    ACCELERATE,
    SCRIPT,
    TRL_YAML,
    ExportError,
    accelerate_command,
    python_script,
    trl_yaml,
    uses_assets,
)
from lrexplorer.runs.folder import index, lock, store
from lrexplorer.runs.folder.peak import peak_text
from lrexplorer.runs.folder.store import read_config
from lrexplorer.runs.folder.summary import config_diff, folder_size, table_row
from lrexplorer.runs.spec import RunSpec

CONFIRM = "runs.confirm_delete"
QUERY_NAMES = {"compare": "compare", "smooth": "smooth", "selected": "run"}


def _defaults() -> dict[str, Any]:
    return {"compare": [], "smooth": True, "selected": ""}  # "": the newest run


def _to_query(values: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    if values["compare"]:
        out["compare"] = ",".join(values["compare"])
    if not values["smooth"]:
        out["smooth"] = "false"
    if values["selected"]:
        out["run"] = values["selected"]
    return out


def _from_query(query: Mapping[str, str]) -> Decoded:
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, text in query.items():
        if name == "compare":
            values["compare"] = [i.strip() for i in text.split(",") if i.strip()]
        elif name == "run":
            values["selected"] = text
        elif name == "smooth":
            try:
                values["smooth"] = str_to_bool(text)
            except ValueError:
                problems.append("link parameter `smooth` ignored: must be true or false")
        else:
            problems.append(f"link parameter `{name}` ignored: not a setting of the Runs page")
    return values, [], problems


RUNS = PageState("runs", "runs", _defaults, _to_query, _from_query)
COLUMNS = {
    "final loss": st.column_config.TextColumn(help="Last logged training loss", alignment="right"),
    "eval loss": st.column_config.TextColumn(
        help="Last evaluation loss (— when the run never evaluated)", alignment="right"
    ),
    "attention": st.column_config.TextColumn(help="Attention implementation the model was loaded with"),
    "batch": st.column_config.TextColumn(help="per_device_train_batch_size × gradient_accumulation_steps"),
}


# What tells runs apart first; the rest scrolls.
ORDER = (
    "run",
    "name",
    "status",
    "final loss",
    "eval loss",
    "learning_rate",
    "schedule",
    "warmup",
    "batch",
    "length",
    "steps",
    "duration",
    "predicted / measured peak",
    "attention",
    "model",
    "dataset",
    "optim",
    "precision",
    "started",
)


def render() -> None:
    st.title("Runs")
    _, problems = RUNS.begin()
    for problem in problems:
        st.warning(problem, icon=":material/link_off:")
    st.caption(f"Every run in `{store.runs_dir()}` (set LRX_RUNS_DIR to use another folder), newest first.")
    import_control(lambda run_id: RUNS.set(selected=run_id))
    import_notes()
    runs = all_runs()
    if not runs:
        st.info("No runs yet. Start one on the Train page.", icon=":material/info:")
        page_link("train", label="Go to Train", icon=":material/play_arrow:")
        return
    runs_table(runs)
    st.subheader("Compare")
    compare(runs)
    st.subheader("Manage a run")
    manage(runs)


def all_runs() -> list[dict[str, Any]]:
    return index.list_runs(store.runs_dir())


def runs_table(runs: list[dict[str, Any]]) -> None:
    rows = [shown_row(table_row(r)) for r in runs]
    # run_name is optional: its column is shown only when some run has one, not as a column of blanks.
    order = [c for c in ORDER if c != "name" or any(row["name"] for row in rows)]
    st.dataframe(rows, hide_index=True, width="stretch", column_config=COLUMNS, key="runs.table", column_order=order)


def shown_row(row: dict[str, Any]) -> dict[str, Any]:
    """A table row as shown: losses to four places, a dash for what a run does not have (never "None")."""
    out = {k: cell(v) for k, v in row.items()}
    out["final loss"], out["eval loss"] = cell(row["final loss"], "{:.4f}"), cell(row["eval loss"], "{:.4f}")
    out["warmup"] = cell(row["warmup"], "{:g}")
    return out


# -- compare ----------------------------------------------------------------------------------------------
def compare(runs: list[dict[str, Any]]) -> None:
    ids = [r["run_id"] for r in runs]
    paths = {r["run_id"]: Path(r["path"]) for r in runs}
    if any(i not in ids for i in RUNS.get("compare")):  # a run deleted since
        RUNS.set(compare=[i for i in RUNS.get("compare") if i in ids])
    chosen = st.multiselect(
        "Runs to compare",
        ids,
        **RUNS.bind("compare"),
        placeholder="pick two or more runs",
        help="Overlay their loss and learning-rate curves and list the settings that differ.",
    )
    if not chosen:
        st.caption("Pick runs above to overlay their curves.")
        return
    snaps = {label(i, paths[i]): feeds().get(paths[i]).poll() for i in chosen}
    smooth = st.toggle("Smoothed loss", **RUNS.bind("smooth"))
    loss = [
        rc.Series(i, s.train["step"], rc.smooth(s.train["loss"]) if smooth else s.train["loss"])
        for i, s in snaps.items()
    ]
    lr = [rc.Series(i, s.train["step"], s.train["learning_rate"]) for i, s in snaps.items()]
    cols = st.columns(2)
    with cols[0]:
        st.plotly_chart(
            rc.overlay_figure(loss, "Loss" + (" (smoothed)" if smooth else ""), "loss"),
            width="stretch",
            key="runs.loss",
        )
    with cols[1]:
        st.plotly_chart(rc.overlay_figure(lr, "Learning rate", "learning rate"), width="stretch", key="runs.lr")
    evaluated = [rc.Series(i, s.eval["step"], s.eval["eval_loss"]) for i, s in snaps.items() if s.eval["step"].size]
    if evaluated:
        st.plotly_chart(rc.overlay_figure(evaluated, "Eval loss", "eval loss"), width="stretch", key="runs.eval")
    if len(chosen) >= 2:
        diff = config_diff({i: read_config(paths[i]) for i in chosen})
        st.markdown("**Settings that differ**")
        if diff:
            st.dataframe(diff, hide_index=True, width="stretch", key="runs.diff")
        else:
            st.caption("None: these runs have the same configuration.")
    st.markdown("**Peak memory per device**", help="The pre-flight's estimate, then what the run really used.")
    peaks = [{"run": i, "predicted / measured peak": peak_text(store.read_memory_record(paths[i]))} for i in chosen]
    st.dataframe(peaks, hide_index=True, width="stretch", key="runs.peaks")


def label(run_id: str, run_dir: Path) -> str:
    """A run's legend entry: its run_name with the id, or the id alone."""
    name = read_config(run_dir).get("run_name")
    return f"{name} ({run_id})" if name else run_id


# -- one run ----------------------------------------------------------------------------------------------
def manage(runs: list[dict[str, Any]]) -> None:
    ids = [r["run_id"] for r in runs]
    if RUNS.get("selected") not in ("", *ids):  # a run deleted since: back to the newest
        RUNS.set(selected="")
    # "" follows the newest run (a new run becomes the one shown) and leaves the address without a run.
    choice = st.selectbox(
        "Run",
        ["", *ids],
        format_func=lambda i: f"the newest ({ids[0]})" if i == "" else i,
        **RUNS.bind("selected"),
    )
    run_id = choice or ids[0]
    status = next(r for r in runs if r["run_id"] == run_id)
    run_dir = Path(status["path"])
    state = status.get("state", "?")
    st.caption(f"{state} · step {status.get('global_step', 0)}/{status.get('max_steps', '?')} · {run_dir}")
    actions = st.container(horizontal=True, vertical_alignment="center")
    page_link(
        "train",
        container=actions,
        label="Open live view",
        query_params={"run": run_id},
        icon=":material/monitoring:",
    )
    act = roles.can_act()  # a view-only session sees every action greyed out, and each refuses it again below
    if state in store.ACTIVE:
        if actions.button(
            "Stop", key="runs.stop", icon=":material/stop:", disabled=not act
        ) and not roles.refuse_if_viewer("Stopping a run"):
            request_stop(run_dir)
            st.toast(f"Stop requested for {run_id}.", icon=":material/stop:")
    elif (
        store.checkpoints(run_dir)
        and state != "completed"
        and actions.button(
            "Resume",
            key="runs.resume",
            icon=":material/play_arrow:",
            help="Continue from the newest checkpoint; the curves continue where it was saved.",
            disabled=not act,
        )
        and not roles.refuse_if_viewer("Resuming a run")
    ):
        resume(run_dir)
    delete = actions.button("Delete", key="runs.delete", icon=":material/delete:", disabled=not act)
    if state not in store.ACTIVE and delete and not roles.refuse_if_viewer("Deleting a run"):
        st.session_state[CONFIRM] = run_id
    if st.session_state.get(CONFIRM) == run_id:
        confirm_delete(run_dir)
    if imported_panel(run_dir):
        return
    if state == "completed":
        merge_panel(run_dir)
    export(run_dir)


def resume(run_dir: Path) -> None:
    try:
        launcher.resume_run(run_dir)
    except (RuntimeError, FileNotFoundError, lock.DeviceBusy, OSError) as exc:
        st.error(f"Cannot resume {run_dir.name}: {exc}", icon=":material/error:")
        return
    st.success(f"Resumed {run_dir.name}.", icon=":material/play_arrow:")
    page_link("train", label="Watch it", query_params={"run": run_dir.name}, icon=":material/monitoring:")


def confirm_delete(run_dir: Path) -> None:
    size = folder_size(run_dir) / 2**20
    st.warning(
        f"Delete run **{run_dir.name}** and its folder ({size:.1f} MiB: checkpoints, model, metrics)? "
        "This cannot be undone.",
        icon=":material/delete_forever:",
    )
    cols = st.container(horizontal=True)
    if cols.button("Yes, delete", key="runs.delete_yes", type="primary") and not roles.refuse_if_viewer(
        "Deleting a run"
    ):
        try:
            store.delete_run(run_dir, store.runs_dir())
        except (RuntimeError, ValueError, OSError) as exc:
            st.error(f"Not deleted: {exc}", icon=":material/error:")
            return
        feeds().forget(run_dir)
        st.session_state.pop(CONFIRM, None)
        RUNS.set(selected="")
        st.toast(f"Deleted {run_dir.name}.", icon=":material/delete:")
        st.rerun()
    if cols.button("Cancel", key="runs.delete_no"):
        st.session_state.pop(CONFIRM, None)
        st.rerun()


# -- export -----------------------------------------------------------------------------------------------
def export(run_dir: Path) -> None:
    st.markdown("**Export** — the code that reproduces this run, generated from the spec the launcher ran.")
    try:
        spec = store.read_spec(run_dir, cached_facts())
    except (FieldError, store.ConfigUnreadable) as exc:
        st.error(f"This run's config.yaml cannot be read as a spec: {exc}", icon=":material/error:")
        return
    tabs = st.tabs(["Python script", "YAML (trl sft)", "accelerate launch"])
    with tabs[0]:
        script = python_script(spec, cached_facts())
        if uses_assets(spec):
            st.caption(
                "The built-in model and data are files in the bundle's `assets/` folder: this script needs that "
                "folder next to it, so download the complete bundle below to run it elsewhere."
            )
        st.download_button(
            "Download train.py",
            script,
            file_name=SCRIPT,
            mime="text/x-python",
            key="runs.dl_py",
            icon=":material/download:",
        )
        st.code(script, language="python", height=360)
    with tabs[1]:
        model_path = None
        if builtin.is_builtin(spec["model"]):
            # trl sft needs a folder to load: the bundle below saves the built-in model's initial weights there.
            model_path = INITIAL_MODEL
            st.caption(
                f"{spec['model']} has no Hub id: `{INITIAL_MODEL}/` (its initial weights, the same seed) comes with "
                "the bundle below; run `trl sft --config sft.yaml` inside the unzipped folder."
            )
        try:
            text = trl_yaml(spec, model_path=model_path, facts=cached_facts())
        except ExportError as exc:
            st.info(f"{exc}.", icon=":material/info:")
        else:
            st.download_button(
                "Download sft.yaml",
                text,
                file_name=TRL_YAML,
                mime="application/x-yaml",
                key="runs.dl_yaml",
                icon=":material/download:",
            )
            st.code(text, language="yaml", height=360)
    with tabs[2]:
        command = accelerate_command(spec, facts=cached_facts())
        st.download_button(
            "Download accelerate.sh",
            f"#!/bin/sh\n{command}\n",
            file_name=ACCELERATE,
            mime="text/x-shellscript",
            key="runs.dl_acc",
            icon=":material/download:",
        )
        st.code(command, language="bash")
        st.caption(
            f"Runs {SCRIPT} (the Python script) through accelerate on the run's num_processes; the bundle adds "
            "accelerate_config.yaml and slurm.sbatch for a cluster (`lrexplorer train --export` takes --num_machines)."
        )
    bundle(spec, run_dir)


def bundle(spec: RunSpec, run_dir: Path) -> None:
    """A zip of train.py, accelerate.sh, sft.yaml, a README and the built-in files they use (built on
    request: it saves the built-in model's initial weights, which takes a few seconds)."""
    key = f"runs.bundle.{run_dir}"
    if st.button("Prepare a complete bundle (.zip)", key="runs.bundle", icon=":material/folder_zip:"):
        with st.spinner("Writing the bundle…"):
            try:
                st.session_state[key] = zip_bundle(spec, run_dir.name, cached_facts())
            except (ExportError, OSError) as exc:
                st.error(f"Bundle failed: {exc}", icon=":material/error:")
                return
    if key in st.session_state:
        st.caption(
            "Everything the run needs, by paths relative to the folder: unzip it anywhere and follow its README "
            f"(`python {SCRIPT}`, `sh {ACCELERATE}`, or `trl sft --config {TRL_YAML}` inside the folder)."
        )
        st.download_button(
            "Download the bundle",
            st.session_state[key],
            file_name=f"{run_dir.name}-export.zip",
            mime="application/zip",
            key="runs.dl_zip",
            icon=":material/download:",
        )
