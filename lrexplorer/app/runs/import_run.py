"""The Runs page's "Import a run": a run made elsewhere (a Trainer or `trl sft` output folder, or its
trainer_state.json) read into the runs directory as a read-only run of kind `imported`, the same import as
`lrexplorer runs import`; and what the page says about an imported run instead of its controls."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from lrexplorer.app.common import roles
from lrexplorer.core.fields import FieldError
from lrexplorer.runs.folder import store
from lrexplorer.runs.imported import import_run, imported_from


def import_control(select: Callable[[str], None]) -> None:
    """The expander; a run imported becomes the page's selected run (`select(run_id)`). A view-only session of
    a class sees it greyed out: the folder is read on the server's disk."""
    with st.expander("Import a run made elsewhere", icon=":material/upload_file:"):
        st.caption(
            "The output folder of a transformers Trainer or `trl sft` run (or its trainer_state.json), on this "
            "machine. Its logs become a read-only run you can chart and compare here; arguments saved beside it as "
            "JSON or YAML (training_args.json) are read too, never the pickled training_args.bin."
        )
        with st.form("runs.import", border=False):
            folder = st.text_input("Folder", key="runs.import_folder", placeholder="/path/to/output_dir")
            run_id = st.text_input("Run id (optional)", key="runs.import_id", placeholder="imported-FOLDERNAME")
            submitted = st.form_submit_button("Import", icon=":material/upload:", disabled=not roles.can_act())
        if submitted and not roles.refuse_if_viewer("Importing a run"):
            do_import(folder.strip(), run_id.strip() or None, select)


def do_import(folder: str, run_id: str | None, select: Callable[[str], None]) -> None:
    if not folder:
        st.error("**folder**: give the run's output folder or its trainer_state.json.", icon=":material/error:")
        return
    try:
        run_dir, run = import_run(Path(folder), store.runs_dir(), run_id)
    except FieldError as exc:
        st.error(f"**{exc.field}**: {exc.problem}.", icon=":material/error:")
        return
    except OSError as exc:
        st.error(f"Could not write the run: {exc.strerror or exc}", icon=":material/error:")
        return
    select(run_dir.name)
    st.session_state["runs.imported_notes"] = (run_dir.name, len(run.records), run.notes)
    st.rerun()


def import_notes() -> None:
    """What the last import read and left out, once, after the page redraws with the new run."""
    done = st.session_state.pop("runs.imported_notes", None)
    if done is None:
        return
    run_id, logs, notes = done
    st.success(f"Imported **{run_id}**: {logs:,} logs.", icon=":material/check_circle:")
    for note in notes:
        st.caption(f":material/info: {note}")


def imported_panel(run_dir: Path) -> bool:
    """For an imported run, say what it is and return True (it has no controls here); False otherwise."""
    source = imported_from(run_dir)
    if source is None:
        return False
    st.info(
        f"Imported from `{source}`: the logs of a run made elsewhere. It cannot be stopped, resumed, exported or "
        "merged here (there is no worker, checkpoint or model); open it to see its charts and the schedule its "
        "learning rates follow, compare it above, or delete it.",
        icon=":material/upload_file:",
    )
    return True
