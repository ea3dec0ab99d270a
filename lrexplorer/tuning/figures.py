"""Optuna's own Plotly figures of a sweep: parallel coordinates, slices, parameter importances.

Each figure needs enough finished trials to say something; where a sweep has too few, the figure's
entry is the reason instead, for the page to show.
"""

from __future__ import annotations

from typing import Any

from lrexplorer.tuning.study import Sweep

TARGET = "final loss"


def sweep_figures(sweep: Sweep) -> dict[str, Any]:
    """name -> plotly Figure, or a sentence saying why it cannot be drawn yet."""
    import optuna.visualization as vis

    complete = [t for t in sweep.study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    varied = [n for n in sweep.space.names if len({repr(t.params.get(n)) for t in complete}) > 1]
    out: dict[str, Any] = {}
    if not complete:
        reason = "no trial has completed yet"
        return {"parallel_coordinate": reason, "slice": reason, "importances": reason}
    out["parallel_coordinate"] = vis.plot_parallel_coordinate(sweep.study, target_name=TARGET)
    out["slice"] = vis.plot_slice(sweep.study, target_name=TARGET)
    if len(complete) < 2 or not varied:
        out["importances"] = "importances need at least two completed trials that differ in some value"
    else:
        out["importances"] = vis.plot_param_importances(sweep.study, params=varied, target_name=TARGET)
    return out


SUGGESTION_COLOURS = {"valley": "#d62728", "steep": "#2ca02c", "minimum": "#9467bd", "lightning": "#ff7f0e"}


def range_figure(result: dict[str, Any]) -> Any:
    """Loss against LR (log axis): each update's raw loss, the smoothed loss, and each suggestion marked
    on the smoothed curve at the point its method picked."""
    import plotly.graph_objects as go

    lrs, raw, smoothed = result["lrs"], result["losses"], result["smoothed"]
    fig = go.Figure()
    fig.add_scatter(x=lrs, y=raw, mode="markers", name="loss (each update)", marker={"size": 4, "color": "#9aa"})
    fig.add_scatter(x=lrs, y=smoothed, mode="lines", name="smoothed loss", line={"color": "#1f77b4", "width": 2})
    for name, index in result["suggestion_index"].items():
        lr = result["suggestions"].get(name)
        if index is None or lr is None:
            continue
        y = smoothed[min(index, len(smoothed) - 1)]
        colour = SUGGESTION_COLOURS.get(name, "#444")
        fig.add_scatter(
            x=[lr], y=[y], mode="markers", name=f"{name}: {lr:.2e}", marker={"size": 12, "color": colour, "symbol": "x"}
        )
    finite = [v for v in smoothed if v is not None]
    top = max(finite[0] * 2, min(finite) * 4) if finite else None  # hide the runaway tail's scale
    fig.update_layout(
        xaxis={"type": "log", "title": "learning rate"},
        yaxis={"title": "training loss", **({"range": [0, top]} if top else {})},
        height=420,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig
