"""Optuna's own Plotly figures of a sweep: parallel coordinates, slices, parameter importances.

Each figure needs enough finished trials to say something; where a sweep has too few, the figure's
entry is the reason instead, for the page to show.
"""

from __future__ import annotations

from typing import Any

from .study import Sweep

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
