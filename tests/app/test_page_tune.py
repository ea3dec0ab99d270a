"""The Tune page (AppTest): a finished range test's suggestions, each with its "use this LR" button."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.run_folders import finished_range_test
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def open_finished_range_test(runs: Path, monkeypatch) -> tuple[AppTest, dict]:
    """The Tune page on a finished range test (made up) in `runs`; returns the page and the test's result."""
    monkeypatch.setenv("LRX_RUNS_DIR", str(runs))
    result = finished_range_test(runs)
    at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "page_scripts" / "tune.py"), default_timeout=120)
    at.query_params["lrfind"] = "lr-range-test-1"
    at.run()
    return at, result


def test_a_finished_range_test_shows_its_suggestions_with_use_this_lr(tmp_path, monkeypatch):
    at, result = open_finished_range_test(tmp_path, monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(m.value for m in at.markdown)
    valley = result["suggestions"]["valley"]
    assert f"`{valley:.2e}`" in shown and "**valley**" in shown
    assert at.button(key="tune.use.valley") is not None and at.button(key="tune.use.steep") is not None


def test_use_this_lr_fills_the_train_form_at_the_first_click(tmp_path, monkeypatch):
    from lrexplorer.app.common.run_inputs import SAVED, key

    at, result = open_finished_range_test(tmp_path, monkeypatch)
    at.button(key="tune.use.steep").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    steep = result["suggestions"]["steep"]
    assert float(at.session_state[SAVED][key("learning_rate")]) == pytest.approx(steep, rel=1e-12)
    # Run on its own (no navigation), the page cannot switch to Train and says what it set instead.
    assert any(f"{steep:.3g}" in s.value for s in at.success), [s.value for s in at.success]


@pytest.mark.slow
def test_a_range_test_then_a_three_trial_sweep_started_from_the_page(tmp_path, monkeypatch):
    import time

    from lrexplorer.runs.kinds.range_test import read_result
    from lrexplorer.tuning.study import open_sweep

    runs = tmp_path / "runs"
    monkeypatch.setenv("LRX_RUNS_DIR", str(runs))
    monkeypatch.setenv("LRX_LOCK_DIR", str(tmp_path / "locks"))  # its own CPU lock: other tests train beside it
    at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "page_scripts" / "tune.py"), default_timeout=120)
    at.run()
    at.number_input(key="train.max_steps").set_value(2)  # the sweep's trials: the Train form's run, shortened
    at.text_input(key="tune.num_steps").set_value("10")
    at.button(key="tune.start_range").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    ref = at.query_params["lrfind"]
    run_dir = runs / (ref[0] if isinstance(ref, list) else ref)
    deadline = time.monotonic() + 300
    while read_result(run_dir) is None and time.monotonic() < deadline:
        time.sleep(1)
    at.run()
    shown = " ".join(m.value for m in at.markdown)
    assert "**valley**" in shown, shown

    at.text_area(key="tune.space").set_value("learning_rate: {values: [1.0e-3, 2.0e-3, 3.0e-3]}\n")
    at.selectbox(key="tune.sampler").set_value("grid")
    at.number_input(key="tune.n_trials").set_value(3)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="tune.start_sweep").click()
    at.run()
    sweep_ref = at.query_params["sweep"]
    folder = runs / "sweeps" / (sweep_ref[0] if isinstance(sweep_ref, list) else sweep_ref)
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline and not ((folder / "study.db").exists() and open_sweep(folder).done() == 3):
        time.sleep(2)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    best = [s.value for s in at.success]
    assert any(s.startswith("Best: trial") for s in best), (best, (folder / "sweep.log").read_text())
    assert all(at.button(key=f"tune.open.{n}") is not None for n in range(3)), "every trial opens in Train"
