"""Importing a run made elsewhere from the Runs page (AppTest), and the schedule its logged learning rates follow
on its Train page: recognised in the background, then drawn over the logged points with the truth of the real
Trainer run it came from."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from helpers.app_pages import run
from helpers.plotly_data import array
from helpers.trainer_runs import trainer_run
from streamlit.testing.v1 import AppTest

from lrexplorer.runs.folder import index
from lrexplorer.runs.folder import schedule_match as sm

ROOT = Path(__file__).resolve().parents[2]


def page(script: str, run_id: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "main.py"), default_timeout=120)
    if run_id:
        at.query_params["run"] = run_id
    at.switch_page(f"page_scripts/{script}.py")
    return run(at)


def import_from_page(at: AppTest, folder: str) -> AppTest:
    at.text_input(key="runs.import_folder").set_value(folder)
    at.button(key="FormSubmitter:runs.import-Import").click()
    return run(at)


@pytest.mark.slow
def test_a_run_imported_on_the_page_is_listed_charted_and_its_schedule_drawn(runs, tmp_path):
    made = tmp_path / "elsewhere" / "cosine-run"
    trainer = trainer_run(made, "cosine", learning_rate=5e-4, warmup_steps=0.1, max_steps=40, logging_steps=2)
    at = import_from_page(page("runs"), str(made))
    assert any("Imported **imported-cosine-run**" in s.value for s in at.success)
    rows = at.dataframe[0].value.to_dict("records")
    assert [(r["run"], r["status"], r["steps"]) for r in rows] == [
        ("imported-cosine-run", "completed (imported)", "40/40")
    ]
    assert any("cannot be stopped, resumed, exported or merged" in i.value for i in at.info)
    assert not at.tabs  # no export tabs for a run whose script ran elsewhere
    at.multiselect(key="runs.compare").set_value(["imported-cosine-run"])
    run(at)
    overlays = {
        json.loads(c.proto.spec)["layout"]["title"]["text"]: json.loads(c.proto.spec) for c in at.get("plotly_chart")
    }
    (lr_trace,) = overlays["Learning rate"]["data"]
    logged = [e["learning_rate"] for e in trainer.state.log_history if "learning_rate" in e]
    assert lr_trace["name"] == "imported-cosine-run" and array(lr_trace["y"]).tolist() == logged

    view = page("train", "imported-cosine-run")
    run_dir = index.find_run("imported-cosine-run", runs)
    deadline = time.monotonic() + 240
    while sm.cached(run_dir) is None and time.monotonic() < deadline:  # the background search
        time.sleep(0.5)
    run(view)
    charts = {
        json.loads(c.proto.spec)["layout"]["title"]["text"]: json.loads(c.proto.spec) for c in view.get("plotly_chart")
    }
    drawn = charts["Learning rate: logged, and the schedule that reproduces it"]
    assert [t["name"] for t in drawn["data"]] == ["cosine", "logged"]
    warmup = trainer.args.get_warmup_steps(40)
    (said,) = [s.value for s in view.success if s.value.startswith("Recognised")]
    assert f"cosine at learning_rate 0.0005 with {warmup} warmup updates" in said
    assert any("An imported run" in c.value for c in view.caption)


def test_a_folder_without_a_state_is_refused_on_the_page_and_nothing_is_written(runs, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    at = import_from_page(page("runs"), str(empty))
    assert any("**folder**" in e.value and "no trainer_state.json" in e.value for e in at.error)
    assert not runs.exists() or not any(runs.iterdir())
