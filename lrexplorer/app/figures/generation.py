"""Plotly figure of the Memory page's Generation tab (no streamlit): the peak of a generate call against the
prompt length, split into weights, KV cache and the rest, with the chosen GPU's usable memory."""

from __future__ import annotations

import plotly.graph_objects as go

from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.core.fields import FieldError
from lrexplorer.core.units import GIB
from lrexplorer.memory.analytic.generate import estimate_generation
from lrexplorer.memory.generation import GenerationSetup

PARTS = (("weights", "weights", "#1f77b4"), ("kv_cache", "KV cache", "#2ca02c"), ("rest", "the rest", "#d62728"))


def prompt_lengths(current: int, limit: int) -> list[int]:
    """Powers of two from 64 up to the model's limit, and the chosen length."""
    out, n = {current}, 64
    while n <= limit:
        out.add(n)
        n *= 2
    return sorted(x for x in out if x <= limit)


def prompt_sweep(
    arch: Architecture, setup: GenerationSetup, lengths: list[int], positions: int | None
) -> dict[str, list[float | None]]:
    """GiB of each part at the peak for every prompt length (None where the estimate refuses it)."""
    series: dict[str, list[float | None]] = {key: [] for key, _, _ in PARTS}
    for length in lengths:
        try:
            est = estimate_generation(arch, setup.with_(prompt_length=length), positions)
        except FieldError:
            for values in series.values():
                values.append(None)
            continue
        c = est.components
        rest = est.peak_bytes - c["weights"] - c["kv_cache"]
        for key, value in (("weights", c["weights"]), ("kv_cache", c["kv_cache"]), ("rest", rest)):
            series[key].append(value / GIB)
    return series


def prompt_figure(
    lengths: list[int], series: dict[str, list[float | None]], current: int, usable: tuple[str, int] | None
) -> go.Figure:
    fig = go.Figure()
    for key, label, colour in PARTS:
        fig.add_trace(
            go.Scatter(x=lengths, y=series[key], name=label, stackgroup="peak", mode="lines", line_color=colour)
        )
    if usable is not None:
        name, size = usable
        fig.add_hline(y=size / GIB, line_dash="dash", line_color="#555", annotation_text=f"{name}: usable")
    fig.add_vline(x=current, line_dash="dot", line_color="#888")
    fig.update_layout(
        height=340,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis={"title": "prompt_length (tokens)", "type": "log"},
        yaxis={"title": "peak GiB (at the peak: weights, KV cache, the rest)"},
        legend={"orientation": "h", "y": 1.12},
    )
    return fig
