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


def use_links(at: AppTest) -> dict[str, dict[str, str]]:
    """The "Use this LR" links of the page, by suggestion (the markdown links of a page run on its own)."""
    import re
    from urllib.parse import parse_qs, urlsplit

    links = {}
    for m in at.markdown:
        found = re.search(r"\[Use this LR\]\((/train\?[^)]*)\)", m.value)
        if found:
            links[len(links)] = {k: v[0] for k, v in parse_qs(urlsplit(found.group(1)).query).items()}
    return links


def test_a_finished_range_test_shows_its_suggestions_with_use_this_lr(tmp_path, monkeypatch):
    at, result = open_finished_range_test(tmp_path, monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(m.value for m in at.markdown)
    valley = result["suggestions"]["valley"]
    assert f"`{float(f'{valley:.3g}'):.2e}`" in shown and "**valley**" in shown
    assert len(use_links(at)) == len([lr for lr in result["suggestions"].values() if lr is not None])


def test_use_this_lr_links_to_the_train_form_with_the_rounded_lr(tmp_path, monkeypatch):
    """A link (one history entry: Back returns to the result) to the Train page with the form's values and the
    suggestion, rounded as the page shows it: 0.000158, not 0.0001584893192461114."""
    from lrexplorer.app.pages import PAGES

    at, result = open_finished_range_test(tmp_path, monkeypatch)
    suggestions = [lr for lr in result["suggestions"].values() if lr is not None]
    links = use_links(at)
    for i, lr in enumerate(suggestions):
        rounded = float(f"{lr:.3g}")
        assert rounded != lr and abs(rounded - lr) <= 5e-3 * lr
        assert links[i] == {"learning_rate": f"{rounded:g}"}
    train = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "main.py"), default_timeout=120).run()
    train.query_params["learning_rate"] = links[0]["learning_rate"]
    train.switch_page(PAGES["train"].script).run()
    assert not train.exception and train.number_input(key="train.learning_rate").value == float(f"{suggestions[0]:.3g}")


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
    at.number_input(key="tune.run.max_steps").set_value(2)  # the sweep's trials: the Train form's run, shortened
    at.number_input(key="tune.num_steps").set_value(10)
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
    opened = [m.value for m in at.markdown if "[Open in Train](/train?" in m.value]
    assert len(opened) == 3, "every trial opens in Train"


def test_a_range_test_not_started_yet_counts_against_its_own_length(tmp_path, monkeypatch):
    """Before the worker has written max_steps, the test's length comes from its config: "update 0 of 60",
    never "of ?"."""
    from helpers.run_folders import make_run

    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path))
    make_run(tmp_path, "lr-range-test-9", state="queued", config={"max_steps": 60}, message="")
    at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "page_scripts" / "tune.py"), default_timeout=120)
    at.query_params["lrfind"] = "lr-range-test-9"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    said = [i.value for i in at.info if i.value.startswith("Range test lr-range-test-9")]
    assert said and "update 0 of 60" in said[0] and "?" not in said[0], said
