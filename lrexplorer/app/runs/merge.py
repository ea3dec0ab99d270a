"""The Runs page's merge panel: a LoRA or QLoRA run's adapter folded into its base, as a model any
transformers script loads. The merged folder goes inside the run (deleted with it), one per dtype."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from lrexplorer.app.common import roles
from lrexplorer.core.fields import FieldError
from lrexplorer.runs.exports.merge import MERGE_DTYPES, is_adapter, merge_run
from lrexplorer.runs.folder import store

MERGED = "merged-{dtype}"


def merged_dir(run_dir: Path, dtype: str) -> Path:
    return run_dir / MERGED.format(dtype=dtype)


def merge_panel(run_dir: Path) -> None:
    """Shown for a run whose final model is a LoRA adapter; writes the merged model on request."""
    if not is_adapter(run_dir / store.FINAL):
        return
    st.markdown(
        "**Merged model**: this run saved a LoRA adapter (`final_model/`: adapter_model.safetensors and "
        "adapter_config.json). Merging folds it into the base weights (a 4-bit base is dequantized first) "
        "and writes a plain model in safetensors, with its tokenizer and generation config."
    )
    row = st.container(horizontal=True, vertical_alignment="bottom")
    dtype = row.selectbox("dtype of the merged weights", MERGE_DTYPES, key="runs.merge_dtype")
    dest = merged_dir(run_dir, dtype)
    if dest.is_dir() and any(dest.iterdir()):
        st.success(f"Merged model in `{dest}`.", icon=":material/check_circle:")
    elif row.button(
        "Merge adapter into the base", key="runs.merge", icon=":material/merge:", disabled=not roles.can_act()
    ) and not roles.refuse_if_viewer("Merging an adapter"):
        with st.spinner("Loading the base, merging, saving…"):
            try:
                merge_run(run_dir, dest, dtype, inside_run=True)
            except (FieldError, store.ConfigUnreadable, OSError) as exc:
                st.error(f"Not merged: {exc}", icon=":material/error:")
                return
        st.success(f"Merged model in `{dest}`.", icon=":material/check_circle:")
    else:
        return
    st.code(
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
        f"model = AutoModelForCausalLM.from_pretrained({str(dest)!r})\n"
        f"tokenizer = AutoTokenizer.from_pretrained({str(dest)!r})",
        language="python",
    )
    st.caption(f"The same from a shell: `lrexplorer runs merge {run_dir.name} DEST --dtype {dtype}`.")
