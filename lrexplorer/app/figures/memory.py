"""Plotly figures of the Memory page (no streamlit): where the memory goes in each phase of a step,
and how the peak grows with the sequence length for eager against flash-style attention."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import plotly.graph_objects as go

from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.core.fields import FieldError
from lrexplorer.core.units import GIB
from lrexplorer.memory.analytic.estimate import Estimate, estimate
from lrexplorer.memory.gpus import Gpu
from lrexplorer.memory.setup import TrainingSetup

PHASE_LABELS = {"forward": "forward (end)", "backward": "backward", "optimizer_step": "optimizer step"}
COLOURS = {
    "weights": "#1f77b4",
    "optimizer_states": "#ff7f0e",
    "gradients": "#2ca02c",
    "activations": "#d62728",
    "buffers": "#9467bd",
    "overheads": "#7f7f7f",
}


def _capacity_lines(fig: go.Figure, gpus: Sequence[Gpu]) -> None:
    """One dashed line per distinct capacity, naming every GPU of that size (so labels never overlap)."""
    by_size: dict[int, list[str]] = {}
    for gpu in gpus:
        by_size.setdefault(gpu.total_bytes, []).append(gpu.name.removeprefix("NVIDIA ").removeprefix("GeForce "))
    for size, names in sorted(by_size.items()):
        fig.add_hline(
            y=size / GIB,
            line_dash="dash",
            line_color="#555",
            line_width=1,
            annotation_text=f"{size / GIB:.0f} GiB: {', '.join(names)}",
            annotation_position="top right",
            annotation_font_size=11,
        )


def phase_breakdown(est: Estimate) -> dict[str, dict[str, int]]:
    """What is live at each phase's peak, split into the components the engine knows for certain.

    Weights, optimizer state and the CUDA overheads are there in every phase; gradients are complete
    in the optimizer step (and in the forward/backward of later micro-batches when accumulating);
    the rest of a phase's peak is activations and temporaries (in the backward, together with the
    gradients created so far).
    """
    c = est.components
    overheads = c["cuda_context"] + c["cuda_workspace"] + c["batch"] + c["communication_buffers"]
    accumulating = est.setup.gradient_accumulation_steps > 1
    out = {}
    for phase, peak in est.phases.items():
        grads = c["gradients"] if (phase == "optimizer_step" or accumulating) else 0
        row = {
            "weights": c["weights"],
            "optimizer_states": c["optimizer_states"],
            "gradients": grads,
            "overheads": overheads,
        }
        if phase == "optimizer_step":
            row["buffers"] = c["optimizer_step_buffers"]
        rest = peak - sum(row.values())
        row["activations"] = max(0, rest)
        out[phase] = row
    return out


OVERHEAD_PARTS = {
    "cuda_context": "CUDA context",
    "cuda_workspace": "cuBLAS workspace",
    "batch": "input batch",
    "communication_buffers": "communication buffers",
}


def per_device(setup: TrainingSetup) -> str:
    """What one figure is a share of: a GPU, or the one CPU process (no CUDA context, no sharding)."""
    return "per GPU" if setup.device == "cuda" else "in the CPU process"


def phases_figure(est: Estimate, gpus: Sequence[Gpu] = (), height: int = 360) -> go.Figure:
    """Stacked bars, one per phase of the step, with each GPU's capacity as a dashed line."""
    breakdown = phase_breakdown(est)
    phases = list(breakdown)
    overheads = [label for key, label in OVERHEAD_PARTS.items() if est.components[key]]
    labels = {
        "weights": "weights",
        "optimizer_states": "optimizer states",
        "gradients": "gradients",
        "buffers": "optimizer step buffers",
        "activations": "activations and temporaries (in the backward: + gradients so far)",
        "overheads": ", ".join(overheads),
    }
    fig = go.Figure()
    for key in ("weights", "optimizer_states", "gradients", "buffers", "activations", "overheads"):
        values = [breakdown[p].get(key, 0) / GIB for p in phases]
        if not any(values):
            continue
        fig.add_bar(
            name=labels[key],
            x=[PHASE_LABELS[p] for p in phases],
            y=values,
            marker_color=COLOURS[key],
            hovertemplate="%{y:.2f} GiB<extra>" + labels[key] + "</extra>",
        )
    _capacity_lines(fig, gpus)
    fig.update_layout(
        barmode="stack",
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis_title=f"GiB {per_device(est.setup)}",
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def sequence_lengths(current: int) -> list[int]:
    """Powers of two from 256 up to 8192 (further when max_length is longer), with max_length itself."""
    top = max(current, 8192)
    return sorted({2**k for k in range(8, 18) if 2**k <= top} | {current})


def sequence_sweep(arch: Architecture, setup: TrainingSetup, lengths: Sequence[int]) -> dict[str, list[float | None]]:
    """Peak GiB at each length for eager attention, the attention this setup uses, and the flash-style
    kernel it could use instead."""
    flash = "flash_attention_2" if (setup.device == "cuda" and setup.compute_dtype != "float32") else "sdpa"
    if flash == "sdpa" and not arch.supports_sdpa:
        flash = "flash_attention_2" if setup.device == "cuda" else ""
    series: dict[str, list[float | None]] = {
        name: [] for name in dict.fromkeys(("eager", setup.attention(arch), flash)) if name
    }
    for attn, points in series.items():
        for s in lengths:
            try:
                points.append(estimate(arch, replace(setup, attn_implementation=attn, max_length=s)).peak_bytes / GIB)
            except FieldError:
                points.append(None)
    return series


def log_ticks(low: float, high: float) -> list[float]:
    """Readable tick values for a log axis from `low` to `high`: 1-2-5 steps, finer when the range is short
    (plotly's own ticks on a short log range print bare digits such as "6 5 3 2")."""
    for mantissas in ((1, 2, 5), (1, 1.5, 2, 3, 4, 5, 6, 8), tuple(range(10, 100, 5))):
        ticks = [
            m * 10.0**e
            for e in range(math.floor(math.log10(low)) - 2, math.ceil(math.log10(high)) + 1)
            for m in mantissas
            if low <= m * 10.0**e <= high
        ]
        if len(ticks) >= 3:
            return [float(f"{t:.3g}") for t in ticks]
    return [float(f"{low:.3g}"), float(f"{high:.3g}")]


def sequence_figure(
    lengths: Sequence[int],
    series: dict[str, list[float | None]],
    gpus: Sequence[Gpu] = (),
    current: int | None = None,
    height: int = 360,
    chosen: str = "",
    per: str = "per GPU",
) -> go.Figure:
    fig = go.Figure()
    names = {
        "eager": "eager (keeps batch × heads × length² scores)",
        "sdpa": "sdpa (flash / memory-efficient kernel)",
        "flash_attention_2": "flash_attention_2",
    }
    colours = {"eager": "#d62728", "sdpa": "#1f77b4", "flash_attention_2": "#2ca02c"}
    # The setup's own attention last, so it is drawn over a curve it shares (sdpa and flash often do).
    for attn, values in sorted(series.items(), key=lambda item: item[0] == chosen):
        fig.add_scatter(
            x=list(lengths),
            y=values,
            mode="lines+markers",
            name=names.get(attn, attn) + (" (your setup)" if attn == chosen else ""),
            line={
                "color": colours.get(attn),
                "width": 3 if attn == chosen else 2,
                "dash": "solid" if attn == chosen else "dot",
            },
            hovertemplate="length %{x}: %{y:.2f} GiB<extra>" + attn + "</extra>",
        )
    # Everything as traces, not shapes: on a log axis a shape's coordinates are read as powers of ten,
    # which stretched the axis to 10^max_length.
    by_size: dict[int, list[str]] = {}
    for gpu in gpus:
        by_size.setdefault(gpu.total_bytes, []).append(gpu.name.removeprefix("NVIDIA ").removeprefix("GeForce "))
    for size, gpu_names in sorted(by_size.items()):
        label = f"{size / GIB:.0f} GiB: {', '.join(gpu_names)}"
        fig.add_scatter(
            x=[lengths[0], lengths[-1]],
            y=[size / GIB] * 2,
            mode="lines+text",
            text=["", label],
            textposition="top left",
            textfont={"size": 11, "color": "#555"},
            showlegend=False,
            line={"dash": "dash", "color": "#555", "width": 1},
            hoverinfo="skip",
        )
    ys = [v for values in series.values() for v in values if v] + [size / GIB for size in by_size]
    low, high = min(ys), max(ys)
    if current:
        fig.add_scatter(
            x=[current, current],
            y=[low, high],
            mode="lines+text",
            text=["", f"max_length {current}"],
            textposition="top right",
            textfont={"size": 11, "color": "#777"},
            showlegend=False,
            line={"dash": "dot", "color": "#999", "width": 1},
            hoverinfo="skip",
        )
    x_ticks = [n for n in lengths if n & (n - 1) == 0]  # the powers of two; max_length has its own label
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": -0.2},
        xaxis={
            "title": "max_length (tokens, log scale)",
            "type": "log",
            "range": [math.log10(lengths[0]) - 0.05, math.log10(lengths[-1]) + 0.05],
            "tickvals": x_ticks,
            "ticktext": [f"{n // 1024}k" if n >= 1024 else str(n) for n in x_ticks],
        },
        yaxis={
            "title": f"peak GiB {per} (log scale)",
            "type": "log",
            "range": [math.log10(low) - 0.05, math.log10(high) + 0.1],
            "tickvals": log_ticks(low, high),
        },
    )
    return fig
