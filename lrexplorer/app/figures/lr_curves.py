"""Plotly figures of learning-rate curves, and the decimation that keeps them light in the browser.

A run of a million updates gives a million points per curve; a browser chart needs a few
thousand. `decimate_indices` picks the points that matter for the picture (extremes and jumps), so
a staircase still shows vertical drops and a peak is never shaved off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

# Plotly's default qualitative colours; set explicitly so the main chart and the close-up agree.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
# Identical curves (constant and an unevaluated plateau schedule) would hide each other; with
# different dash patterns both colours stay visible where they overlap.
DASHES = ("solid", "dash", "dot", "dashdot")
MAX_EPOCH_LINES = 60  # more lines than this would hide the curves behind a grey band


def decimate_indices(y: np.ndarray, max_points: int = 2000) -> np.ndarray:
    """Sorted unique indices of at most `max_points` points of `y` that draw like the full series.

    Half the budget goes to M4 buckets: `y` is cut into equal buckets and each keeps its first,
    last, minimum and maximum point, so no peak or trough is shaved off. The other half keeps jumps
    drawn as jumps: `y` is cut into `max_points` small cells, each offers its largest rise and its
    largest fall, and the largest of these keep both ends (the last point before the jump and the
    first point after it) instead of being drawn as a slope. A jump is missed only when a cell holds
    two jumps in the same direction (they lie within n / max_points updates, one pixel apart) or
    when more than max_points / 4 cells compete. Short series come back whole. Needs max_points >= 8.
    """
    y = np.asarray(y)
    n = y.size
    if n <= max_points:
        return np.arange(n)
    picked = np.concatenate(
        [
            _bucket_extremes(y, max(1, max_points // 8)),
            _largest_jumps(y, cells=max_points, keep=max(1, max_points // 4)),
        ]
    )
    return np.unique(picked)


def _grid(values: np.ndarray, rows: int, fill: float) -> tuple[np.ndarray, np.ndarray]:
    """`values` as `rows` equal rows (the last padded with `fill`) and the index of each row's start."""
    size = -(-values.size // rows)
    rows = -(-values.size // size)
    if rows * size != values.size:
        values = np.concatenate([values, np.full(rows * size - values.size, fill)])
    return values.reshape(rows, size), np.arange(rows) * size


def _bucket_extremes(y: np.ndarray, buckets: int) -> np.ndarray:
    # Padding repeats the last value: argmin/argmax return the first occurrence, which is the real one.
    grid, starts = _grid(y, buckets, y[-1])
    size = grid.shape[1]
    last = np.minimum(starts + size - 1, y.size - 1)
    return np.concatenate([starts, last, starts + grid.argmin(axis=1), starts + grid.argmax(axis=1)])


def _largest_jumps(y: np.ndarray, cells: int, keep: int) -> np.ndarray:
    # diff[i] = y[i+1] - y[i]; padding with 0 adds no jump. Cell boundaries cut no pair of points.
    grid, starts = _grid(np.diff(y), cells, 0.0)
    rise, fall = grid.argmax(axis=1), grid.argmin(axis=1)
    rows = np.arange(grid.shape[0])
    where = np.concatenate([starts + rise, starts + fall])
    size = np.abs(np.concatenate([grid[rows, rise], grid[rows, fall]]))
    if size.size > keep:
        top = np.argpartition(size, size.size - keep)[-keep:]
        where, size = where[top], size[top]
    where = where[size > 0]
    return np.concatenate([where, where + 1])


@dataclass(frozen=True)
class Line:
    """One curve as the chart draws it: update indices and the LR at each of them."""

    label: str
    x: np.ndarray
    y: np.ndarray

    @classmethod
    def from_lr(cls, label: str, lr: np.ndarray, max_points: int = 2000) -> Line:
        idx = decimate_indices(lr, max_points)
        return cls(label=label, x=idx, y=np.asarray(lr)[idx])


_HOVER = "%{fullData.name}<br>update %{x:,}<br>lr %{y:.6g}<extra></extra>"


def lr_figure(
    lines: Sequence[Line],
    *,
    warmup_steps: int = 0,
    epoch_boundaries: Sequence[int] = (),
    log_y: bool = False,
    height: int = 440,
) -> go.Figure:
    """Overlay of LR curves with the warmup shaded and epoch starts as dotted lines.

    Uses SVG `Scatter` rather than WebGL `Scattergl`: lines are already decimated, and SVG renders in
    headless browsers and static exports where WebGL may be missing.
    """
    fig = go.Figure()
    for i, line in enumerate(lines):
        fig.add_trace(
            go.Scatter(
                x=line.x,
                y=line.y,
                name=line.label,
                mode="lines",
                hovertemplate=_HOVER,
                line={"color": PALETTE[i % len(PALETTE)], "width": 2.5, "dash": DASHES[i % len(DASHES)]},
            )
        )
    last = max((int(line.x[-1]) for line in lines if line.x.size), default=0)
    shapes, notes = [], []
    if warmup_steps > 0:
        shapes.append(_warmup_band(min(warmup_steps, last + 1)))
        notes.append(
            {
                "x": min(warmup_steps, last + 1) / 2,
                "y": 1.0,
                "xref": "x",
                "yref": "paper",
                "yanchor": "bottom",
                "text": "warmup",
                "showarrow": False,
                "font": {"size": 11, "color": "#7a6a00"},
            }
        )
    boundaries = [b for b in epoch_boundaries if 0 < b <= last]
    if 0 < len(boundaries) <= MAX_EPOCH_LINES:
        shapes += [_epoch_line(b) for b in boundaries]
        if len(boundaries) <= 12:
            # Label each epoch start; with many epochs the labels would overlap, the lines suffice.
            notes += [
                {
                    "x": b,
                    "y": 0.0,
                    "xref": "x",
                    "yref": "paper",
                    "yanchor": "top",
                    "xanchor": "left",
                    "text": f"epoch {i + 2}",
                    "showarrow": False,
                    "font": {"size": 10, "color": "#666"},
                }
                for i, b in enumerate(boundaries)
            ]
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        hovermode="closest",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.06, "xanchor": "left", "x": 0},
        shapes=shapes,
        annotations=notes,
        xaxis={"title": {"text": "optimizer update k (0-based)"}, "rangemode": "tozero", "zeroline": False},
        yaxis={
            "title": {"text": "learning rate"},
            "type": "log" if log_y else "linear",
            "exponentformat": "power" if log_y else "e",
            "rangemode": "normal" if log_y else "tozero",
        },
    )
    return fig


def warmup_window(warmup_steps: int) -> int:
    """Updates the close-up covers: the ramp and twice its length after it, at least 20."""
    return max(3 * warmup_steps, 20)


def warmup_figure(lines: Sequence[Line], warmup_steps: int, height: int = 300) -> go.Figure:
    """Close-up of the first `warmup_window(W)` updates, one marker per optimizer update.

    `lines` hold the first updates of each curve, at full resolution when the window is at most
    2000 updates. Up to 150 updates each one is a dot, so a one-update shift between schedules
    shows; beyond that dots would merge, and decimated windows are not one point per update.
    """
    fig = go.Figure()
    for i, line in enumerate(lines):
        dense = line.x.size <= 150 and (line.x.size < 2 or bool(np.all(np.diff(line.x) == 1)))
        fig.add_trace(
            go.Scatter(
                x=line.x,
                y=line.y,
                name=line.label,
                mode="lines+markers" if dense else "lines",
                hovertemplate=_HOVER,
                line={"color": PALETTE[i % len(PALETTE)], "width": 2, "dash": DASHES[i % len(DASHES)]},
                marker={"size": 6 if line.x.size <= 60 else 4},
            )
        )
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        hovermode="closest",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        shapes=[
            _warmup_band(min(warmup_steps, max((int(line.x[-1]) + 1 for line in lines if line.x.size), default=0)))
        ],
        xaxis={"title": {"text": "optimizer update k"}, "rangemode": "tozero"},
        yaxis={"title": {"text": "learning rate"}, "exponentformat": "e", "rangemode": "tozero"},
    )
    return fig


def _warmup_band(end: int) -> dict:
    # The ramp covers updates 0..W-1; shade to W - 0.5 so the last warmup update sits inside the band.
    return {
        "type": "rect",
        "xref": "x",
        "yref": "paper",
        "x0": -0.5,
        "x1": end - 0.5,
        "y0": 0,
        "y1": 1,
        "fillcolor": "rgba(255, 215, 0, 0.15)",
        "line": {"width": 0},
        "layer": "below",
    }


def _epoch_line(x: int) -> dict:
    return {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "line": {"color": "rgba(90, 90, 90, 0.55)", "width": 1, "dash": "dot"},
        "layer": "below",
    }
