"""The Train page predicts the run's duration before Start from the seconds per update an ended run with
the same model, batch shape and device took here (the sweep planner's measurement)."""

from __future__ import annotations

from pathlib import Path

from helpers.run_folders import append, make_run, record
from test_page_train import train_page

from lrexplorer.core.facts import detect_facts
from lrexplorer.frontend.preflight import preflight


def seconds(text: str) -> int:
    """Seconds of a duration as the app writes it (1h02m05s, 3m05s, 42s)."""
    import re

    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(\d+)s", text)
    assert parts is not None, text
    hours, minutes, secs = (int(p or 0) for p in parts.groups())
    return 3600 * hours + 60 * minutes + secs


def test_predicted_duration_from_a_similar_ended_run(runs: Path) -> None:
    at = train_page()
    assert any("No ended run with this model" in c.value for c in at.caption)
    assert not any(m.label == "Predicted training time" for m in at.metric)
    defaults = preflight({}, detect_facts()).spec
    assert defaults is not None
    same = make_run(runs, "same", config=dict(defaults.values))
    append(same, *(record(i, step_time_s=t) for i, t in enumerate((0.5, 0.9, 0.6), start=1)))
    other = make_run(runs, "other", config={**defaults.values, "per_device_train_batch_size": 64})
    append(other, record(1, step_time_s=50.0))  # newer, but another batch shape: not used
    at = train_page()
    updates = int(next(m.value for m in at.metric if m.label == "Updates").replace(",", ""))
    shown = next(m for m in at.metric if m.label == "Predicted training time")
    assert seconds(shown.value) == round(0.6 * updates)  # the median of the same run's updates
    assert "run same" in shown.help
