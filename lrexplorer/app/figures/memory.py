"""Plotly figures of the Memory page (no streamlit): where the memory goes in each phase of a step,
and how the peak grows with the sequence length for eager against flash-style attention."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import plotly.graph_objects as go

from ...fields import FieldError
from ...memory.architecture import Architecture
from ...memory.estimate import Estimate, estimate
from ...memory.gpus import Gpu
from ...memory.setup import TrainingSetup
from ...units import GIB

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


def phases_figure(est: Estimate, gpus: Sequence[Gpu] = (), height: int = 360) -> go.Figure:
    """Stacked bars, one per phase of the step, with each GPU's capacity as a dashed line."""
    breakdown = phase_breakdown(est)
    phases = list(breakdown)
    labels = {
        "weights": "weights",
        "optimizer_states": "optimizer states",
        "gradients": "gradients",
        "buffers": "optimizer step buffers",
        "activations": "activations and temporaries (in the backward: + gradients so far)",
        "overheads": "CUDA context, workspace, batch, buffers",
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
        yaxis_title="GiB per device",
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def sequence_sweep(arch: Architecture, setup: TrainingSetup, lengths: Sequence[int]) -> dict[str, list[float | None]]:
    """Peak GiB at each length for eager attention and for the flash-style kernel this setup can use."""
    flash = "flash_attention_2" if (setup.device == "cuda" and setup.compute_dtype != "float32") else "sdpa"
    if flash == "sdpa" and not arch.supports_sdpa:
        flash = "flash_attention_2" if setup.device == "cuda" else ""
    series: dict[str, list[float | None]] = {"eager": []}
    if flash:
        series[flash] = []
    for attn, points in series.items():
        for s in lengths:
            try:
                points.append(estimate(arch, replace(setup, attn_implementation=attn, max_length=s)).peak_bytes / GIB)
            except FieldError:
                points.append(None)
    return series


def sequence_figure(
    lengths: Sequence[int],
    series: dict[str, list[float | None]],
    gpus: Sequence[Gpu] = (),
    current: int | None = None,
    height: int = 360,
) -> go.Figure:
    fig = go.Figure()
    names = {
        "eager": "eager (keeps batch × heads × length² scores)",
        "sdpa": "sdpa (flash / memory-efficient kernel)",
        "flash_attention_2": "flash_attention_2",
    }
    colours = {"eager": "#d62728", "sdpa": "#1f77b4", "flash_attention_2": "#1f77b4"}
    for attn, values in series.items():
        fig.add_scatter(
            x=list(lengths),
            y=values,
            mode="lines+markers",
            name=names.get(attn, attn),
            line_color=colours.get(attn),
            hovertemplate="length %{x}: %{y:.2f} GiB<extra>" + attn + "</extra>",
        )
    # Capacities as traces, not shapes: on a log axis a shape's y is read as a power of ten.
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
    if current:
        fig.add_vline(
            x=current,
            line_dash="dot",
            line_color="#999",
            annotation_text=f"max_length {current}",
            annotation_position="top left",
        )
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": -0.2},
        xaxis={
            "title": "max_length (tokens, log scale)",
            "type": "log",
            "tickvals": list(lengths),
            "ticktext": [f"{n // 1024}k" if n >= 1024 else str(n) for n in lengths],
        },
        yaxis={"title": "peak GiB per device (log scale)", "type": "log"},
    )
    return fig
