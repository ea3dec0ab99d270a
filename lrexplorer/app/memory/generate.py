"""The Memory page's Generation tab: the memory of one `model.generate` call (weights, KV cache, the prefill's
activations, the logits), whether it fits a GPU, and the largest batch and longest prompt that do.

Every figure is the analytic engine's (`lrexplorer.memory.analytic.generate`); this module only lays out
widgets, generated from the catalogue fields of the memory tool (`mem.gen.<field>` keys).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lrexplorer.app.common import field_widgets as fw
from lrexplorer.app.common import widgets
from lrexplorer.app.figures.generation import prompt_figure, prompt_lengths, prompt_sweep
from lrexplorer.app.memory.form import GEN, GENERATE_ROWS, MEMORY_STATE
from lrexplorer.catalogues.params import CATALOGUE, MEMORY
from lrexplorer.core.fields import FieldError
from lrexplorer.core.units import GIB, MIB
from lrexplorer.memory.advice.budget import MARGIN_HELP, MAX_MARGIN_PERCENT
from lrexplorer.memory.advice.generation_fit import LABELS, GenerationFit, advise_generation
from lrexplorer.memory.analytic.generate import GenerationEstimate, estimate_generation
from lrexplorer.memory.generation import GenerationSetup, generation_setup_from_values
from lrexplorer.memory.gpus import Gpu, catalogue, detected_gpus
from lrexplorer.memory.model_source import ModelSource


def render(source: ModelSource) -> None:
    st.caption(
        "One greedy `model.generate` call: a batch of prompts, each this long (no padding), and every new token "
        "generated, with transformers' default cache. The key/value cache grows by one token per step; a "
        "sliding-window layer keeps only its window (after the prefill it still holds the whole prompt)."
    )
    raw = {}
    for row in GENERATE_ROWS:
        for col, name in zip(st.columns(4), row, strict=True):
            bound = MEMORY_STATE.bind(GEN + name)
            raw[name] = fw.field_input(CATALOGUE[name], bound, tool=MEMORY, container=col)
    positions = source.config.get("max_position_embeddings")
    positions = positions if isinstance(positions, int) else None
    try:
        setup = generation_setup_from_values(raw, source.config)
        est = estimate_generation(source.architecture, setup, positions)
    except FieldError as exc:
        st.error(f"{exc}", icon=":material/error:")
        return
    headline(est)
    for note in est.notes:
        st.caption(f":material/info: {note}.")
    left, right = st.columns([3, 2])
    with left:
        st.markdown("#### Where the memory goes")
        table = pd.DataFrame(
            [(LABELS[k], v / GIB) for k, v in est.components.items() if v], columns=["at the peak", "GiB"]
        )
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            key="mem.gen.components",
            column_config={"GiB": st.column_config.NumberColumn(format="%.3f")},
        )
        st.caption(" · ".join(f"peak during the {p} {v / GIB:.2f} GiB" for p, v in est.phases.items()))
    with right:
        usable = fit_section(source, setup, est, positions)
    st.markdown("#### Memory against prompt length")
    lengths = prompt_lengths(setup.prompt_length, (positions or 131072) - setup.max_new_tokens)
    series = prompt_sweep(source.architecture, setup, lengths, positions)
    st.plotly_chart(prompt_figure(lengths, series, setup.prompt_length, usable), width="stretch", key="mem.gen.sweep")
    st.caption(
        "Checked against real generate calls counted op by op on the CPU (Llama, Mistral with sliding windows, "
        "Qwen2; float32 and bfloat16; sdpa and eager; bench/README.md): within 0.01 %. A short generation peaks "
        "in the prefill (the MLP of the last layer, or eager attention's scores); a long one at its last steps, "
        "where every layer's cache is copied to grow by one token and the logits processors copy the scores."
    )


def headline(est: GenerationEstimate) -> None:
    c = est.components
    m = st.columns(4)
    m[0].metric(
        "Peak (generate)",
        f"{est.peak_bytes / GIB:.2f} GiB",
        help=f"During the {est.peak_phase}: the largest moment of the call, not a sum.",
    )
    m[1].metric("Weights", f"{c['weights'] / GIB:.2f} GiB", help=f"{est.n_params / 1e9:.3f} B parameters")
    m[2].metric(
        "KV cache at the end",
        f"{est.kv_cache_bytes / GIB:.2f} GiB",
        help=f"{est.kv_cache_per_token / MIB:.3f} MiB per token of one sequence in the full-attention layers.",
    )
    m[3].metric(
        "Peak phase",
        est.peak_phase,
        help="prefill: the forward over the whole prompt; decode: one token per sequence, the cache growing.",
    )


def _targets() -> list[Gpu]:
    found = detected_gpus()
    return found + [g for g in catalogue() if g.name not in {f.name for f in found}]


def fit_section(
    source: ModelSource, setup: GenerationSetup, est: GenerationEstimate, positions: int | None
) -> tuple[str, int] | None:
    """The fit on one GPU (or the RAM for a CPU run); returns the usable memory to draw, if any."""
    if setup.device != "cuda":
        st.markdown("#### Fit in RAM")
        ram = widgets.cached_hardware().cpu.available_ram_bytes
        share = est.peak_bytes / ram
        st.progress(min(1.0, share), text=f"RAM free now: {ram / GIB:.1f} GiB, {100 * share:.0f}% used")
        return ("RAM free now", ram)
    st.markdown("#### Fit on a GPU")
    gpus = _targets()
    names = [g.name for g in gpus]
    if MEMORY_STATE.values().get("gen.gpu") not in names:  # a detected GPU list without the default
        MEMORY_STATE.set(**{"gen.gpu": names[0]})
    name = st.selectbox("GPU", names, **MEMORY_STATE.bind("gen.gpu"))
    margin = st.slider(
        "safety margin %", 0.0, MAX_MARGIN_PERCENT, step=1.0, help=MARGIN_HELP, **MEMORY_STATE.bind("gen.margin")
    )
    gpu = next(g for g in gpus if g.name == name)
    fit = advise_generation(source.architecture, setup, gpu, margin, positions)
    verdict(fit, setup)
    return (gpu.name.removeprefix("NVIDIA "), fit.usable_bytes)


def verdict(fit: GenerationFit, setup: GenerationSetup) -> None:
    line = (
        f"{fit.gpu.name}: peak {fit.peak_bytes / GIB:.2f} GiB against {fit.usable_bytes / GIB:.2f} GiB usable "
        f"({fit.margin_percent:g} % kept free)."
    )
    longest = (
        f"{fit.max_prompt:,} tokens (a context of {fit.max_prompt + setup.max_new_tokens:,})"
        if fit.max_prompt
        else "none"
    )
    more = (
        f"Largest batch_size at these lengths: {fit.max_batch or 'none'}. Longest prompt_length at batch_size "
        f"{setup.batch_size}: {longest}."
    )
    if fit.fits:
        st.success(f"Fits. {line} {more}", icon=":material/check_circle:")
    else:
        st.warning(f"Does not fit. {line} {more}", icon=":material/error:")
