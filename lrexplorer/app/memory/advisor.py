"""The Memory page's trainer settings, its note on what the estimate models, and the fit advisor: does
the run fit one GPU with a safety margin, the largest micro-batch, and the changes that make it fit
(one click fills the form with a suggestion)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pandas as pd
import streamlit as st

from lrexplorer.app.memory.form import MEMORY_STATE, SETUP_FIELDS
from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.core.units import GIB, plural
from lrexplorer.memory.advice.advisor import Advice, Suggestion, advise
from lrexplorer.memory.advice.budget import MARGIN_HELP, MAX_MARGIN_PERCENT
from lrexplorer.memory.advice.report import trl_defaults, trl_defaults_text
from lrexplorer.memory.analytic import fused_head
from lrexplorer.memory.analytic.estimate import Estimate
from lrexplorer.memory.gpus import Gpu
from lrexplorer.memory.setup import TRAINERS, TrainingSetup, trl_unset_defaults


def trainer_note(est: Estimate, arch: Architecture) -> None:
    """Which trainer's step the figures are, what TRL's SFTConfig would turn on in a script that leaves it
    out (with that step's peak), and every fallback or unverified path, visibly."""
    trl = fused_head.installed_trl() or "not installed"
    st.caption(
        f"Modelled trainer: **{est.setup.trainer}**: {TRAINERS[est.setup.trainer]}. "
        f"TRL installed: {trl}; the SFTTrainer model covers TRL {fused_head.trl_range_text()}."
    )
    # The form cannot tell a value left at its default from one chosen: off here reads as "left out" there.
    left = trl_defaults(arch, est.setup, trl_unset_defaults(asdict(est.setup), given=()))
    if left is not None:
        st.info(trl_defaults_text(left, est.peak_bytes, flag=""), icon=":material/rule_settings:")
    for note in est.notes:
        # An unverified path is a caveat to read; a fallback changes what the figures mean.
        if note == fused_head.TRITON_NOTE:
            st.caption(f":material/info: {note}.")
        else:
            st.warning(note, icon=":material/warning:")


def form_values(changes: dict[str, Any], setup: TrainingSetup) -> dict[str, Any]:
    """The Memory page's settings that make its form produce the setup with `changes`."""
    out = {name: value for name, value in changes.items() if name in SETUP_FIELDS}
    if changes.get("use_peft"):
        out["lora_r"] = setup.lora_r
    return out


def _apply(values: dict[str, Any]) -> None:
    MEMORY_STATE.set(**values)


def advisor_section(arch: Architecture, setup: TrainingSetup, gpus: list[Gpu]) -> None:
    st.markdown("#### Fit advisor")
    if setup.device != "cuda" or not gpus:
        st.caption("The advisor answers for one GPU: choose device cuda and at least one target GPU.")
        return
    c = st.columns([2, 2])
    names = [g.name for g in gpus]
    if MEMORY_STATE.get("advisor_gpu") not in names:  # "" (the first) or a GPU no longer compared
        MEMORY_STATE.set(advisor_gpu=names[0])
    name = c[0].selectbox("GPU to fit", names, **MEMORY_STATE.bind("advisor_gpu"))
    margin = c[1].slider(
        "safety margin %", 0.0, MAX_MARGIN_PERCENT, step=1.0, help=MARGIN_HELP, **MEMORY_STATE.bind("margin")
    )
    gpu = next(g for g in gpus if g.name == name)
    advice = cached_advice(arch, setup, gpu, margin)
    _verdict(advice)
    suggestions = advice.suggestions()
    if not suggestions:
        return
    st.caption(
        "Every mix of the changes on 1, 2, 4 and 8 GPUs was tried, each re-running the estimate; the best on each "
        "GPU count is marked. Ranked by GPUs, then quality cost, then compute per update (6 N FLOPs per token, "
        "4 N with LoRA's frozen weights, + 2 N with recomputation, + 12 L·s·h for attention)."
    )
    # A static table: its cells wrap, so a long combination of changes is read in full.
    st.table(_table(advice, suggestions), hide_index=True)
    for i, s in enumerate(suggestions):
        st.button(
            f"Apply: {s.label}",
            key=f"mem.apply.{i}",
            on_click=_apply,
            args=(form_values(s.changes, setup),),
        )


@st.cache_data(max_entries=64, show_spinner="Trying every combination of changes...")
def cached_advice(arch: Architecture, setup: TrainingSetup, gpu: Gpu, margin: float) -> Advice:
    # The search runs a few hundred estimates (a fraction of a second): not again on every rerun of the page.
    return advise(arch, setup, gpu, margin)


def _verdict(advice: Advice) -> None:
    line = (
        f"{advice.gpu.name}: peak {advice.peak_bytes / GIB:.2f} GiB against {advice.usable_bytes / GIB:.2f} GiB usable "
        f"({advice.margin_percent:g} % kept free)."
    )
    largest = f"Largest per_device_train_batch_size that fits: {advice.max_batch or 'none'}"
    if advice.keep_global is not None:
        largest += f"; same global batch: {advice.keep_global[0]} × {advice.keep_global[1]} accumulation steps"
    if advice.fits:
        st.success(f"Fits. {line} {largest}.", icon=":material/check_circle:")
    else:
        st.warning(f"Does not fit. {line} {largest}.", icon=":material/error:")


def _table(advice: Advice, suggestions: list[Suggestion]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "change": s.label + (f" (best on {plural(s.gpus, 'GPU')})" if advice.is_best(s) else ""),
                "peak GiB": f"{s.peak_bytes / GIB:.2f}",
                "quality cost": s.quality_cost,
                "GPUs": str(s.gpus),
                "compute vs now": f"×{s.flops / advice.flops:.2f}",
            }
            for s in suggestions
        ]
    )
