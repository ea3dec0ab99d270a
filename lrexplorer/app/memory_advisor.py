"""The Memory page's trainer settings, its note on what the estimate models, and the fit advisor: does
the run fit one GPU with a safety margin, the largest micro-batch, and the changes that make it fit
(one click fills the form with a suggestion)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ..memory import fused_head
from ..memory.advisor import DEFAULT_MARGIN_PERCENT, MARGIN_HELP, MAX_MARGIN_PERCENT, Advice, Suggestion, advise
from ..memory.architecture import Architecture
from ..memory.estimate import Estimate
from ..memory.gpus import Gpu
from ..memory.setup import TRAINERS, TrainingSetup
from ..units import GIB
from .memory_form import SHARDING

TRAINER_DEFAULTS: dict[str, Any] = {
    "mem.trainer": "sft",
    "mem.packing": False,
    "mem.padding_free": False,
    "mem.masked_label_fraction": 0.0,
    "mem.longest_example": 0,
    "mem.margin": DEFAULT_MARGIN_PERCENT,
}


def trainer_controls(setup: TrainingSetup) -> TrainingSetup:
    """The trainer and SFTConfig's batch shape, on top of the form's setup."""
    for key, value in TRAINER_DEFAULTS.items():
        st.session_state.setdefault(key, value)
    c = st.columns(4)
    trainer = c[0].selectbox(
        "trainer",
        tuple(TRAINERS),
        key="mem.trainer",
        help="\n\n".join(f"**{k}**: {v}" for k, v in TRAINERS.items()),
    )
    sft = trainer == "sft"
    packing = c[1].toggle("packing", key="mem.packing", disabled=not sft, help="Rows of exactly max_length tokens.")
    padding_free = c[1].toggle(
        "padding_free", key="mem.padding_free", disabled=not sft, help="The batch in one row, no padding."
    )
    masked = c[2].slider(
        "masked_label_fraction",
        0.0,
        0.95,
        step=0.05,
        key="mem.masked_label_fraction",
        help="Share of labels outside the loss (completion_only_loss / assistant_only_loss prompts). Only TRL's "
        "Triton head on a GPU skips them.",
    )
    longest = c[3].number_input(
        "longest_example (0: every row max_length)",
        min_value=0,
        step=64,
        key="mem.longest_example",
        help="Tokens in the dataset's longest example: unpacked batches are padded to their longest row.",
    )
    return setup.with_(
        trainer=trainer,
        packing=bool(packing and sft),
        padding_free=bool(padding_free and sft),
        masked_label_fraction=float(masked),
        longest_example=int(longest) or None,
    )


def trainer_note(est: Estimate) -> None:
    """Which trainer's step the figures are, and every fallback or unverified path, visibly."""
    trl = fused_head.installed_trl() or "not installed"
    st.caption(
        f"Modelled trainer: **{est.setup.trainer}**: {TRAINERS[est.setup.trainer]}. "
        f"TRL installed: {trl}; the SFTTrainer model covers TRL {fused_head.TRL_RANGE_TEXT}."
    )
    for note in est.notes:
        st.warning(note, icon=":material/warning:")


# Form keys of the Memory page for the setup fields a suggestion changes, and how a value is written there.
FORM_KEYS: dict[str, str] = {
    "per_device_train_batch_size": "mem.per_device_train_batch_size",
    "gradient_accumulation_steps": "mem.gradient_accumulation_steps",
    "max_length": "mem.max_length",
    "activation_checkpointing": "mem.gradient_checkpointing",
    "optim": "mem.optim",
    "dtype": "mem.torch_dtype",
    "load_in_4bit": "mem.load_in_4bit",
    "num_gpus": "mem.num_gpus",
}


def form_values(changes: dict[str, Any], setup: TrainingSetup) -> dict[str, Any]:
    """Session-state values that make the form produce the setup with `changes`."""
    out = {FORM_KEYS[k]: v for k, v in changes.items() if k in FORM_KEYS}
    if changes.get("bf16"):
        out["mem.precision"] = "bf16"
    if changes.get("use_peft"):
        out["mem.lora_r"] = setup.lora_r
    if "zero_stage" in changes:
        out["mem.sharding"] = SHARDING[changes["zero_stage"]]
    return out


def _apply(values: dict[str, Any]) -> None:
    st.session_state.update(values)


def advisor_section(arch: Architecture, setup: TrainingSetup, gpus: list[Gpu]) -> None:
    st.markdown("#### Fit advisor")
    if setup.device != "cuda" or not gpus:
        st.caption("The advisor answers for one GPU: choose device cuda and at least one target GPU.")
        return
    c = st.columns([2, 2])
    name = c[0].selectbox("GPU to fit", [g.name for g in gpus], key="mem.advisor_gpu")
    margin = c[1].slider("safety margin %", 0.0, MAX_MARGIN_PERCENT, step=1.0, key="mem.margin", help=MARGIN_HELP)
    gpu = next(g for g in gpus if g.name == name)
    advice = advise(arch, setup, gpu, margin)
    _verdict(advice)
    suggestions = advice.suggestions()
    if not suggestions:
        return
    st.caption(
        "Each change re-runs the estimate. Ranked by quality cost, then GPUs, then compute per update "
        "(6 N FLOPs per token, 4 N with LoRA's frozen weights, + 2 N with recomputation, + 12 L·s·h for attention)."
    )
    st.dataframe(_table(advice, suggestions), hide_index=True, width="stretch", key="mem.advisor_table")
    for i, s in enumerate(suggestions):
        st.button(
            f"Apply: {s.label}",
            key=f"mem.apply.{i}",
            on_click=_apply,
            args=(form_values(s.changes, setup),),
        )


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
    cheapest = advice.combined.changes if advice.combined is not None else None
    return pd.DataFrame(
        [
            {
                "change": s.label + (" (cheapest)" if s.changes == cheapest else ""),
                "peak GiB": round(s.peak_bytes / GIB, 2),
                "quality cost": s.quality_cost,
                "GPUs": s.gpus,
                "compute vs now": round(s.flops / advice.flops, 2),
            }
            for s in suggestions
        ]
    )
