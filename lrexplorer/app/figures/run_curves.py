"""Plotly figures of a training run: loss, learning rate, grad norm, throughput, memory; and overlays
of several runs for comparison.

Every x axis is the optimizer step as the Trainer logs it (`state.global_step`, 1 for the first
update). Series longer than `MAX_POINTS` are decimated with `lr_curves.decimate_indices`, which keeps
every peak, so a loss spike in a 100,000-step run is still drawn. Traces are SVG `Scatter`, not
WebGL, so they render in headless browsers and screenshots.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from lrexplorer.app.figures.lr_curves import PALETTE, decimate_indices, vertical_line
from lrexplorer.core.units import GIB

# A chart is ~600 px wide: 1,000 points per trace draw every peak (M4 keeps each bucket's extremes), and
# every viewer's browser receives every trace every second, so points cost bandwidth and server CPU.
MAX_POINTS = 1000
HEIGHT = 300
RAW, SMOOTH, EVAL, LIMIT = "#9ecae1", "#1f77b4", "#d62728", "#ff7f0e"


@dataclass(frozen=True)
class Series:
    """One curve of an overlay: a label, steps and values (nan where a record lacked the value)."""

    label: str
    x: np.ndarray
    y: np.ndarray


def finite(x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """The points where y is finite, decimated to at most `max_points` (peaks and jumps kept)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if y.size > max_points:
        idx = decimate_indices(y, max_points)
        x, y = x[idx], y[idx]
    if x.size and np.all(x == np.round(x)) and np.abs(x).max() < 2**31:
        x = x.astype(np.int32)  # steps are integers: half the bytes of float64 on the wire
    return x, y


def smooth(y: np.ndarray, weight: float = 0.9) -> np.ndarray:
    """TensorBoard's debiased exponential moving average: the first points are not pulled towards 0.

    Short runs get a lighter weight (n / (n + 20), capped at `weight`), so a 20-step run's smoothed
    line follows its trend instead of lagging behind it.
    """
    y = np.asarray(y, dtype=float)
    out = np.full(y.size, np.nan)
    weight = min(weight, y.size / (y.size + 20.0))
    acc, norm = 0.0, 0.0
    for i, value in enumerate(y.tolist()):
        if math.isnan(value):  # keep the average where it was
            out[i] = acc / norm if norm else np.nan
            continue
        acc = weight * acc + (1 - weight) * value
        norm = weight * norm + (1 - weight)
        out[i] = acc / norm
    return out


def epoch_boundaries(steps: np.ndarray, epochs: np.ndarray) -> list[tuple[float, int]]:
    """(step, epoch number) where each epoch after the first begins, from the logged epoch values.

    The Trainer logs epoch = k exactly at the last update of epoch k, so the boundary is drawn at the
    first logged step whose epoch reaches k (k = 1, 2, ...), labelled with the epoch that starts.
    """
    out: list[tuple[float, int]] = []
    ok = np.isfinite(steps) & np.isfinite(epochs)
    steps, epochs = steps[ok], epochs[ok]
    if not steps.size:
        return out
    for k in range(1, int(np.floor(epochs.max() + 1e-9)) + 1):
        hit = np.nonzero(epochs >= k - 1e-9)[0]
        if hit.size and hit[0] < steps.size - 1:  # only once the run has logged a step of the next epoch
            out.append((float(steps[hit[0]]), k + 1))
    return out


def _trace(
    x: np.ndarray,
    y: np.ndarray,
    name: str,
    color: str,
    width: float = 1.5,
    dash: str = "solid",
    mode: str | None = None,
    marker: dict | None = None,
) -> dict:
    # Plain dicts, one go.Figure(...) call per chart: ten times faster than add_trace/add_vline/update_layout,
    # which matters when a 10,000-point run's five figures are rebuilt every second.
    return {
        "type": "scatter",
        "x": x,
        "y": y,
        "name": name,
        "mode": mode or ("lines+markers" if x.size < 60 else "lines"),
        "line": {"color": color, "width": width, "dash": dash},
        "marker": {"size": 4, "color": color, **(marker or {})},
    }


def _figure(
    traces: list[dict],
    title: str,
    y_title: str,
    height: int,
    log_y: bool = False,
    shapes: list[dict] | None = None,
    notes: list[dict] | None = None,
    **layout: object,
) -> go.Figure:
    base = {
        "title": {"text": title, "x": 0, "font": {"size": 14}},
        "height": height,
        "hovermode": "x unified",
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1, "font": {"size": 11}},
        "xaxis": {"title": {"text": "step"}, "rangemode": "tozero"},
        "yaxis": {
            "title": {"text": y_title},
            "type": "log" if log_y else "linear",
            "exponentformat": "power" if log_y else "e",
        },
        "shapes": shapes or [],
        "annotations": notes or [],
    }
    base.update(layout)
    return go.Figure(data=traces, layout=base)


def _vline(x: float, text: str) -> tuple[dict, dict]:
    return (
        vertical_line(x, "rgba(90,90,90,0.6)", layer="below"),
        {
            "x": x,
            "y": 1,
            "xref": "x",
            "yref": "paper",
            "text": text,
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "top",
            "font": {"size": 10, "color": "#666"},
        },
    )


def _hline(y: float, text: str) -> tuple[dict, dict]:
    return (
        {
            "type": "line",
            "xref": "paper",
            "yref": "y",
            "x0": 0,
            "x1": 1,
            "y0": y,
            "y1": y,
            "line": {"color": LIMIT, "width": 1.5, "dash": "dash"},
        },
        # Right-aligned: early steps (left) are where spikes usually hide a label.
        {
            "x": 1,
            "y": y,
            "xref": "paper",
            "yref": "y",
            "text": text,
            "showarrow": False,
            "xanchor": "right",
            "yanchor": "bottom",
            "font": {"size": 10, "color": LIMIT},
            "bgcolor": "rgba(255,255,255,0.7)",
        },
    )


def _empty(text: str) -> list[dict]:
    return [
        {
            "text": text,
            "xref": "paper",
            "yref": "paper",
            "x": 0.5,
            "y": 0.5,
            "showarrow": False,
            "font": {"color": "#888"},
        }
    ]


def loss_figure(
    train: dict[str, np.ndarray], evaluation: dict[str, np.ndarray] | None = None, height: int = HEIGHT
) -> go.Figure:
    """Training loss raw and smoothed, eval loss when present, a dotted line where each epoch begins."""
    steps, loss = train["step"], train["loss"]
    x, y = finite(steps, loss)
    traces = [_trace(x, y, "loss", RAW, 1)]
    if loss.size >= 3:
        traces.append(_trace(*finite(steps, smooth(loss)), "smoothed", SMOOTH, 2.5, mode="lines"))
    if evaluation is not None and evaluation["step"].size:
        xe, ye = finite(evaluation["step"], evaluation["eval_loss"])
        traces.append(_trace(xe, ye, "eval loss", EVAL, 2, "dot", "lines+markers", {"size": 7, "symbol": "diamond"}))
    lines = [_vline(step, f"epoch {epoch}") for step, epoch in epoch_boundaries(steps, train["epoch"])]
    notes = [n for _, n in lines] + ([] if x.size else _empty("waiting for the first logged step"))
    return _figure(traces, "Loss", "loss", height, shapes=[s for s, _ in lines], notes=notes)


def lr_figure(
    train: dict[str, np.ndarray], predicted: tuple[np.ndarray, np.ndarray] | None, height: int = HEIGHT
) -> go.Figure:
    """The learning rate the trainer logged, over the curve the Schedules engine predicted.

    `predicted` is (steps, lr) with the LR of update k drawn at step k + 1, where the Trainer logs it.
    Logged values are dots (a long run: a line) inside the predicted band, so agreement shows at a
    glance and any departure stands out.
    """
    traces = []
    if predicted is not None:
        # A wide pale band under the logged values: where they agree, the logged line runs inside it.
        traces.append(_trace(*finite(*predicted), "predicted", "rgba(127,127,127,0.35)", 8, mode="lines"))
    x, y = finite(train["step"], train["learning_rate"])
    traces.append(
        _trace(x, y, "logged", PALETTE[2], 2, mode="markers" if x.size < 300 else "lines", marker={"size": 6})
    )
    fig = _figure(traces, "Learning rate", "learning rate", height)
    fig.update_yaxes(rangemode="tozero")
    return fig


def grad_norm_figure(train: dict[str, np.ndarray], max_grad_norm: float | None, height: int = HEIGHT) -> go.Figure:
    """Gradient norm before clipping, with the max_grad_norm line above which updates are clipped."""
    x, y = finite(train["step"], train["grad_norm"])
    lines = (
        [_hline(max_grad_norm, f"max_grad_norm {max_grad_norm:g}: clipped above")]
        if max_grad_norm and max_grad_norm > 0
        else []
    )
    return _figure(
        [_trace(x, y, "grad norm", PALETTE[4])],
        "Gradient norm",
        "global L2 norm",
        height,
        shapes=[s for s, _ in lines],
        notes=[n for _, n in lines],
    )


def throughput_figure(train: dict[str, np.ndarray], height: int = HEIGHT) -> go.Figure:
    """Training tokens per second of optimizer-step time (data loading and evaluation excluded)."""
    x, y = finite(train["step"], train["tokens_per_s"])
    return _figure([_trace(x, y, "tokens/s", PALETTE[1])], "Throughput", "tokens / s", height)


def memory_figure(
    train: dict[str, np.ndarray], label: str | None, estimate_bytes: float | None = None, height: int = HEIGHT
) -> go.Figure:
    """Measured memory per log (GPU peak allocated, or the process RSS on a CPU), in GiB."""
    x, y = finite(train["step"], train["memory_bytes"])
    lines = [_hline(estimate_bytes / GIB, "estimated peak")] if estimate_bytes else []
    fig = _figure(
        [_trace(x, y / GIB, label or "memory", PALETTE[5])],
        f"Memory ({label})" if label else "Memory",
        "GiB",
        height,
        shapes=[s for s, _ in lines],
        notes=[n for _, n in lines],
    )
    # From zero: a few MiB of RSS noise on a 0.6 GiB process must not look like a leak.
    fig.update_yaxes(rangemode="tozero")
    return fig


def overlay_figure(
    series: Sequence[Series], title: str, y_title: str, log_y: bool = False, height: int = 340
) -> go.Figure:
    """Several runs' curves on one chart (the Runs page's comparison)."""
    traces = []
    for i, s in enumerate(series):
        x, y = finite(s.x, s.y)
        if log_y:
            x, y = x[y > 0], y[y > 0]
        traces.append(_trace(x, y, s.label, PALETTE[i % len(PALETTE)], 2))
    return _figure(
        traces,
        title,
        y_title,
        height,
        log_y,
        notes=[] if series else _empty("select runs to compare"),
        hovermode="closest",
        margin={"l": 10, "r": 10, "t": 40, "b": 40},
        legend={"orientation": "h", "y": -0.25, "yanchor": "top", "x": 0, "xanchor": "left"},
    )
