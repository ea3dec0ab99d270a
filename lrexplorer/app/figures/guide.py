"""Plotly figures of the Guide (no streamlit): mini schedule curves, the clipping picture, memory curves
and the loss curves of the paraphrase runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from lrexplorer.app.figures.lr_curves import PALETTE, Line, lr_figure, vertical_line
from lrexplorer.guide.links import SchedulePreset
from lrexplorer.schedules import compute_curve

MINI_HEIGHT = 230


def schedule_mini(name: str, preset: SchedulePreset) -> go.Figure:
    """The curve the Schedules page draws for this preset (default scheduler arguments), made small."""
    from lrexplorer.runs.steps import plan_steps

    plan = plan_steps(max_steps=preset.max_steps, warmup_steps=preset.warmup_steps)
    curve = compute_curve(name, preset.learning_rate, plan.total_steps, plan.warmup_steps, {})
    fig = lr_figure([Line.from_lr(name, curve.lr, max_points=600)], warmup_steps=plan.warmup_steps, height=MINI_HEIGHT)
    fig.update_layout(showlegend=False, margin={"l": 10, "r": 10, "t": 20, "b": 10})
    fig.update_xaxes(title={"text": "optimizer update"})
    return fig


def clip_figure(before: Sequence[float], after: Sequence[float], max_norm: float) -> go.Figure:
    """A 2-D gradient before and after clipping, with the circle of radius max_norm it is clipped to."""
    fig = go.Figure()
    reach = max(1.0, math.hypot(*before), max_norm) * 1.15
    if max_norm > 0:
        angles = [2 * math.pi * i / 120 for i in range(121)]
        fig.add_trace(
            go.Scatter(
                x=[max_norm * math.cos(a) for a in angles],
                y=[max_norm * math.sin(a) for a in angles],
                mode="lines",
                name=f"‖g‖ = τ = {max_norm:g}",
                line={"color": "#999", "dash": "dot"},
                hoverinfo="skip",
            )
        )
    for vec, label, color, width in (
        (before, "gradient g", PALETTE[3], 3),
        (after, "after clipping g′", PALETTE[2], 5),
    ):
        fig.add_trace(
            go.Scatter(
                x=[0, vec[0]],
                y=[0, vec[1]],
                mode="lines+markers",
                name=label,
                line={"color": color, "width": width},
                marker={"size": [0, 11], "symbol": "arrow", "angleref": "previous"},
                hovertemplate=f"{label}<br>(%{{x:.4g}}, %{{y:.4g}})<extra></extra>",
            )
        )
    fig.update_layout(
        height=420,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h", "yanchor": "top", "y": -0.15, "x": 0},
        xaxis={"range": [-reach, reach], "zeroline": True, "title": {"text": "component 1"}},
        yaxis={"range": [-reach, reach], "zeroline": True, "scaleanchor": "x", "title": {"text": "component 2"}},
    )
    return fig


def memory_figure(lengths: Sequence[int], series: dict[str, list[float]], title: str, log_y: bool = True) -> go.Figure:
    fig = go.Figure()
    for i, (label, values) in enumerate(series.items()):
        fig.add_trace(
            go.Scatter(
                x=list(lengths),
                y=values,
                name=label,
                mode="lines+markers",
                line={
                    "color": PALETTE[i % len(PALETTE)],
                    "width": 2.5,
                    "dash": "dash" if "checkpointing" in label else "solid",
                },
                hovertemplate=label + "<br>%{x:,} tokens<br>%{y:.1f} GiB<extra></extra>",
            )
        )
    fig.update_layout(
        height=360,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        xaxis={
            "type": "log",
            "title": {"text": "sequence length (tokens, log scale)"},
            "tickvals": list(lengths),
            "ticktext": [f"{n:,}" for n in lengths],
        },
        yaxis={"type": "log" if log_y else "linear", "title": {"text": title}},
    )
    return fig


def loss_figure(runs: dict[str, list[dict[str, Any]]], updates_per_epoch: dict[str, int]) -> go.Figure:
    """Training loss (lines) and evaluation loss (markers) of each run against the optimizer update."""
    fig = go.Figure()
    for i, (label, records) in enumerate(runs.items()):
        color = PALETTE[i % len(PALETTE)]
        train = [(r["step"], r["loss"]) for r in records if "loss" in r and "step" in r]
        evals = [(r["step"], r["eval_loss"]) for r in records if "eval_loss" in r and "step" in r]
        if train:
            fig.add_trace(
                go.Scatter(
                    x=[s for s, _ in train],
                    y=[v for _, v in train],
                    name=f"{label}: training loss",
                    mode="lines",
                    line={"color": color, "width": 2},
                )
            )
        if evals:
            fig.add_trace(
                go.Scatter(
                    x=[s for s, _ in evals],
                    y=[v for _, v in evals],
                    name=f"{label}: held-out loss",
                    mode="lines+markers",
                    line={"color": color, "width": 2, "dash": "dot"},
                    marker={"size": 8, "symbol": "diamond"},
                )
            )
    shapes = []
    for i, (label, per_epoch) in enumerate(updates_per_epoch.items()):
        last = max((r.get("step", 0) for r in runs.get(label, [])), default=0)
        if per_epoch and last // per_epoch <= 30:  # more lines would hide the curves
            shapes += [
                vertical_line(x, PALETTE[i % len(PALETTE)], opacity=0.35) for x in range(per_epoch, last + 1, per_epoch)
            ]
    fig.update_layout(
        height=380,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        shapes=shapes,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        xaxis={"title": {"text": "optimizer update (dotted lines: epoch boundaries)"}},
        yaxis={"title": {"text": "loss"}},
    )
    return fig
