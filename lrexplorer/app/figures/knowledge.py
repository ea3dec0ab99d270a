"""Plotly figures of a knowledge lab: accuracy against paraphrases per method, and the fine-tuning losses.

Both read the lab folder's files as they are (`results.json`'s rows, `log.jsonl`'s records), so a
finished lab is drawn again from its folder after a reload.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from lrexplorer.app.figures.lr_curves import PALETTE, vertical_line
from lrexplorer.core.units import plural
from lrexplorer.knowledge.results import accuracy_text

COLOURS = {"base": PALETTE[7], "ft": PALETTE[0], "rag": PALETTE[2], "ft+rag": PALETTE[3]}
HEIGHT = 380
EPOCH_LINE = "rgba(90, 90, 90, 0.55)"


def accuracy_figure(results: dict[str, Any]) -> go.Figure:
    """Trained methods as lines over the paraphrase counts with ±1 std error bars over seeds; methods that
    do not train (base, rag) as dashed horizontal lines; chance as a dotted grey line."""
    rows = [r for r in results["results"] if r["mean"] is not None]
    # The axis shows the counts the lab planned, drawn or not: a lab stopped before its first fine-tuning
    # result still has its axis, not Plotly's empty default.
    counts = sorted({r["paraphrases"] for r in results["results"] if r["paraphrases"] is not None})
    fig = go.Figure()
    for method in ("ft", "ft+rag"):
        mine = sorted((r for r in rows if r["method"] == method), key=lambda r: r["paraphrases"])
        if mine:
            seeds = len(mine[0]["accuracy"])
            spread = seeds > 1  # one seed has no spread to draw
            fig.add_trace(
                go.Scatter(
                    x=[r["paraphrases"] for r in mine],
                    y=[r["mean"] for r in mine],
                    error_y={"type": "data", "array": [r["std"] for r in mine], "visible": spread},
                    mode="lines+markers",
                    name=f"{method} (± 1 std over {plural(seeds, 'seed')})" if spread else f"{method} (1 seed)",
                    line={"color": COLOURS[method]},
                )
            )
    trained = [r for r in results["results"] if r["paraphrases"] is not None]
    if trained and not any(r["mean"] is not None for r in trained):
        fig.add_annotation(
            text="no fine-tuning result: the lab "
            + ("stopped" if results.get("stopped") else "ended")
            + " before the first one finished",
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            showarrow=False,
            font={"color": "rgba(90, 90, 90, 0.9)"},
        )
    for method in ("base", "rag"):
        row = next((r for r in rows if r["method"] == method), None)
        if row is not None:
            fig.add_hline(
                y=row["mean"],
                line={"color": COLOURS[method], "dash": "dash"},
                annotation_text=f"{method} {row['mean']:.3f}",
                annotation_position="top right",
            )
    fig.add_hline(
        y=results["chance"],
        line={"color": "rgba(90, 90, 90, 0.6)", "dash": "dot"},
        annotation_text=f"chance {results['chance']:.2f}",
        annotation_position="bottom left",
    )
    fig.update_layout(
        height=HEIGHT,
        margin={"l": 50, "r": 20, "t": 30, "b": 50},
        yaxis={"title": {"text": "accuracy (highest log-probability)"}, "range": [0, 1.02]},
        xaxis={
            "title": {"text": "paraphrases per fact in the fine-tuning documents" if counts else ""},
            "tickvals": counts or [],
            # half a count of margin each side, so the end points and their error bars are not on the frame
            "range": [min(counts) - 0.5, max(counts) + 0.5] if counts else [0, 1],
            "showticklabels": bool(counts),
        },
        legend={"orientation": "h", "y": 1.12},
    )
    return fig


def curves_figure(records: list[dict[str, Any]]) -> go.Figure:
    """Fine-tuning loss against epoch, one line per paraphrase count and seed (seeds share a colour); dotted
    lines at epoch boundaries, where the model starts to see its documents again."""
    runs: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for r in records:
        if "loss" in r and "epoch" in r:
            runs.setdefault((r["paraphrases"], r["seed"]), []).append(r)
    counts = sorted({p for p, _ in runs})
    fig = go.Figure()
    for (p, seed), rows in sorted(runs.items()):
        colour = PALETTE[counts.index(p) % len(PALETTE)]
        first_seed = seed == min(s for q, s in runs if q == p)
        fig.add_trace(
            go.Scatter(
                x=[r["epoch"] for r in rows],
                y=[r["loss"] for r in rows],
                mode="lines",
                name=f"{p} paraphrase{'s' * (p > 1)}",
                legendgroup=str(p),
                showlegend=first_seed,
                line={"color": colour, "width": 1.5 if first_seed else 1},
                opacity=1.0 if first_seed else 0.5,
                hovertemplate=f"{p}p seed {seed}<br>epoch %{{x:.2f}}<br>loss %{{y:.3f}}<extra></extra>",
            )
        )
    last = max((r["epoch"] for rows in runs.values() for r in rows), default=0)
    fig.update_layout(
        height=HEIGHT,
        margin={"l": 50, "r": 20, "t": 30, "b": 50},
        shapes=[vertical_line(e, EPOCH_LINE, layer="below") for e in range(1, int(last) + 1)],
        xaxis={"title": {"text": "epoch (dotted lines: the start of each pass over the documents)"}},
        yaxis={"title": {"text": "training loss"}},
        legend={"orientation": "h", "y": 1.12},
    )
    return fig


def table_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The paper's layout: one row per method (and paraphrase count), accuracy as mean ± std over seeds."""
    out = []
    for r in results["results"]:
        ran = r["mean"] is not None
        out.append(
            {
                "method": r["method"],
                "paraphrases": "-"
                if r["paraphrases"] is None
                else str(r["paraphrases"]),  # one type per column (Arrow)
                "accuracy": accuracy_text(r["accuracy"]) if ran else "not run",
                "exact match": f"{r['exact_match_mean']:.3f}" if ran else "",
                "per seed": ", ".join(f"{a:.3f}" for a in r["accuracy"]),
            }
        )
    return out
