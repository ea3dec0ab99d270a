"""The figure of a recognised schedule: the learning rates a run logged, and over them the catalogue schedule
that reproduces them (or that they followed until they departed from it, marked by a line).

x is the step as the Trainer logs it: the LR of update k is drawn at step k + 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from lrexplorer.app.figures.lr_curves import PALETTE, decimate_indices, vertical_line

LOGGED, SCHEDULE, DEPART = "#2ca02c", "rgba(31,119,180,0.55)", "#d62728"


def schedule_match_figure(
    steps: np.ndarray, lrs: np.ndarray, curve: np.ndarray | None, label: str, departs_at: int | None, height: int = 300
) -> go.Figure:
    """Logged LRs as points, `curve` (the schedule's LR of every update, or None) as a line beneath them."""
    traces: list[dict[str, Any]] = []
    if curve is not None:
        keep = decimate_indices(curve, 2000)
        traces.append(
            {
                "type": "scatter",
                "x": keep + 1,
                "y": curve[keep],
                "name": label,
                "mode": "lines",
                "line": {"color": SCHEDULE, "width": 6},
            }
        )
    keep = decimate_indices(np.asarray(lrs, dtype=float), 1000)
    traces.append(
        {
            "type": "scatter",
            "x": np.asarray(steps)[keep],
            "y": np.asarray(lrs, dtype=float)[keep],
            "name": "logged",
            "mode": "markers" if keep.size < 300 else "lines",
            "marker": {"size": 5, "color": LOGGED},
            "line": {"color": LOGGED, "width": 1.5},
        }
    )
    shapes, notes = [], []
    if departs_at is not None:
        shapes.append({**vertical_line(departs_at, DEPART), "line": {"color": DEPART, "width": 1.5, "dash": "dash"}})
        notes.append(
            {
                "x": departs_at,
                "y": 1,
                "xref": "x",
                "yref": "paper",
                "text": f"departs at step {departs_at:,}",
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "top",
                "font": {"size": 11, "color": DEPART},
            }
        )
    layout = {
        "title": {"text": "Learning rate: logged, and the schedule that reproduces it", "x": 0, "font": {"size": 14}},
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        "xaxis": {"title": {"text": "step"}, "rangemode": "tozero"},
        "yaxis": {"title": {"text": "learning rate"}, "rangemode": "tozero", "exponentformat": "e"},
        "hovermode": "x unified",
        "shapes": shapes,
        "annotations": notes,
        "colorway": list(PALETTE),
    }
    return go.Figure(data=traces, layout=layout)
