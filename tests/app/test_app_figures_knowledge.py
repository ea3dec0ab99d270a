"""The knowledge lab's table and accuracy figure: one seed has no spread to show, and a lab stopped before its
first fine-tuning result keeps the axis it planned instead of Plotly's empty default."""

from __future__ import annotations

import statistics

from lrexplorer.app.figures.knowledge import accuracy_figure, table_rows
from lrexplorer.knowledge.results import LabResult, MethodResult, table


def lab(rows: list[MethodResult], stopped: bool = False) -> dict:
    return LabResult(rows, {"seeds": 1}, questions=90, chance=0.25, stopped=stopped).to_json()


def test_one_seed_shows_its_accuracy_without_a_spread():
    results = lab([MethodResult("base", None, [0.41], [0.3]), MethodResult("ft", 1, [0.52], [0.4])])
    shown = {row["method"]: row["accuracy"] for row in table_rows(results)}
    assert shown == {"base": "0.410", "ft": "0.520"}
    assert "±" not in table(LabResult([MethodResult("ft", 1, [0.52], [0.4])], {}, 90, 0.25))
    fig = accuracy_figure(results)
    ft = next(t for t in fig.data if t.name.startswith("ft"))
    assert ft.name == "ft (1 seed)" and not ft.error_y.visible


def test_several_seeds_show_the_sample_std():
    accuracy = [0.5, 0.6, 0.7]
    results = lab([MethodResult("ft", 2, accuracy, [0.1, 0.2, 0.3])])
    assert table_rows(results)[0]["accuracy"] == f"{statistics.fmean(accuracy):.3f} ± {statistics.stdev(accuracy):.3f}"
    ft = accuracy_figure(results).data[0]
    assert ft.name == "ft (± 1 std over 3 seeds)" and ft.error_y.visible


def test_a_lab_stopped_before_any_fine_tuning_result_keeps_its_planned_axis():
    rows = [
        MethodResult("base", None, [0.4], [0.3]),
        MethodResult("ft", 1),  # planned, never finished
        MethodResult("ft", 2),
        MethodResult("rag", None, [0.8], [0.7]),
    ]
    fig = accuracy_figure(lab(rows, stopped=True))
    assert not [t for t in fig.data if t.name and t.name.startswith("ft")]
    assert list(fig.layout.xaxis.range) == [0.5, 2.5] and list(fig.layout.xaxis.tickvals) == [1, 2]
    said = [a.text for a in fig.layout.annotations]
    assert any("stopped before the first one finished" in text for text in said), said
    only_base = accuracy_figure(lab([MethodResult("base", None, [0.4], [0.3])], stopped=True))
    assert list(only_base.layout.xaxis.range) == [0, 1] and not only_base.layout.xaxis.showticklabels
