"""The Knowledge lab page: presets from the URL (the Guide's link), errors naming the field, and a lab run in
its own process that can be stopped and is drawn again from its folder."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

from lrexplorer.app.pages import PAGES
from lrexplorer.knowledge.assets import FACTS_FILE
from lrexplorer.knowledge.facts import FactFileError
from lrexplorer.knowledge.lab_folder import FINAL_STATES, LabFolder, lab_command, start_lab

APP = str(Path(__file__).resolve().parents[2] / "lrexplorer" / "app" / "main.py")
PAGE = PAGES["knowledge"].script


def open_page(query: dict[str, str], runs: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("LRX_RUNS_DIR", str(runs))
    at = AppTest.from_file(APP, default_timeout=60).run()
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_guide_links_to_the_lab_preset(tmp_path, monkeypatch):
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path))
    guide = AppTest.from_file(APP, default_timeout=60).run()
    guide.query_params["lesson"] = "knowledge"
    guide.switch_page("page_scripts/guide.py").run()
    links = [e.proto for e in guide.get("page_link") if e.proto.page == "knowledge"]
    assert len(links) == 1
    query = {k: v[0] for k, v in parse_qs(links[0].query_string).items()}
    at = open_page(query, tmp_path, monkeypatch)
    state = at.session_state
    assert state["knowledge.methods"] == query["methods"].split(",")
    assert state["knowledge.paraphrases"] == [int(p) for p in query["paraphrases"].split(",")]
    assert state["knowledge.seeds"] == int(query["seeds"]) and state["knowledge.epochs"] == float(query["epochs"])


def test_a_non_default_preset_reaches_every_control(tmp_path, monkeypatch):
    query = {"methods": "base,rag", "paraphrases": "8,1", "seeds": "2", "epochs": "4", "budget": "updates"}
    at = open_page(query, tmp_path, monkeypatch)
    state = at.session_state
    assert state["knowledge.methods"] == ["base", "rag"] and state["knowledge.paraphrases"] == [8, 1]
    assert (state["knowledge.seeds"], state["knowledge.epochs"], state["knowledge.budget"]) == (2, 4.0, "updates")
    assert not at.button(key="knowledge.start").disabled


@pytest.mark.parametrize(
    ("control", "field", "words"),
    [("methods", "methods", "give at least one method"), ("paraphrases", "paraphrases", "at least one count in 1..8")],
)
def test_bad_settings_name_the_field_and_disable_the_start(tmp_path, monkeypatch, control, field, words):
    at = open_page({"methods": "ft,retrieval"}, tmp_path, monkeypatch)  # an unknown name is dropped from a preset
    assert at.session_state["knowledge.methods"] == ["ft"] and not at.error
    at.multiselect(key=f"knowledge.{control}").set_value([]).run()
    errors = [e.value for e in at.error]
    assert any(f"**{field}**" in e and words in e for e in errors), errors
    assert at.button(key="knowledge.start").disabled


def test_a_bad_fact_file_is_refused_naming_field_and_line(tmp_path, monkeypatch):
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path))
    rows = FACTS_FILE.read_text(encoding="utf-8").splitlines()[:4]
    broken = json.loads(rows[3])
    del broken["questions"]
    with pytest.raises(FactFileError, match=r"mine\.jsonl line 4: field 'questions' is missing") as caught:
        start_lab({}, "\n".join([*rows[:3], json.dumps(broken)]), "mine.jsonl")
    assert (caught.value.field, caught.value.line) == ("questions", 4)
    assert not (tmp_path / "knowledge").exists()  # nothing started


def test_the_lab_command_carries_every_setting(tmp_path):
    settings = {"methods": ["ft", "rag"], "paraphrases": [1, 5], "seeds": 2, "epochs": 3.0, "budget": "updates"}
    cmd = lab_command(tmp_path, settings, tmp_path / "facts.jsonl")
    from lrexplorer.cli import build_parser

    args = build_parser().parse_args(cmd[3:])
    assert (args.methods, args.paraphrases, args.seeds, args.epochs, args.budget) == (
        "ft,rag",
        "1,5",
        "2",
        "3.0",
        "updates",
    )
    assert args.output_dir == str(tmp_path) and args.facts == str(tmp_path / "facts.jsonl")


def _wait(lab: LabFolder, done: Callable[[], Any], timeout: float = 240) -> None:
    end = time.monotonic() + timeout
    while not done() and time.monotonic() < end:
        time.sleep(0.5)
    assert done(), (lab.status(), (lab.path / "lab.log").read_text())


@pytest.mark.slow
def test_a_lab_runs_is_stopped_and_is_shown_again_from_its_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path))
    settings = {"methods": ["base", "ft", "rag"], "paraphrases": [1, 2], "seeds": 1, "epochs": 30.0, "budget": "epochs"}
    lab = LabFolder(start_lab(settings))
    _wait(lab, lambda: "fine-tuning" in lab.status().get("message", "") and lab.records())
    at = open_page({"lab": lab.path.name}, tmp_path, monkeypatch)
    assert at.get("progress") and "left" in at.get("progress")[0].proto.text
    at.button(key="knowledge.stop").click().run()
    assert lab.should_stop()
    _wait(lab, lambda: lab.status().get("state") in FINAL_STATES)
    assert lab.status()["state"] == "stopped"
    results = lab.results()
    assert results is not None and results["stopped"] is True
    rows = {(r["method"], r["paraphrases"]): r for r in results["results"]}
    assert rows["base", None]["mean"] is not None and rows["rag", None]["mean"] is not None
    assert rows["ft", 2]["mean"] is None  # the training cut short is not evaluated

    again = open_page({}, tmp_path, monkeypatch)  # a fresh session: the newest lab, read from its folder
    assert not again.get("progress") and any("Stopped before the end" in w.value for w in again.warning)
    table = again.dataframe[0].value
    assert list(table["method"]) == ["base", "ft", "ft", "rag"]
    assert table["accuracy"][0] == f"{rows['base', None]['mean']:.3f}"  # one seed: no "± 0.000"
    assert any("; 1 seed;" in m.value for m in again.markdown), "not 1 seeds"
    charts = again.get("plotly_chart")
    assert len(charts) == 2  # accuracy and the fine-tuning loss


@pytest.mark.slow
def test_a_lab_waits_for_the_cpu_held_by_a_run(tmp_path, monkeypatch):
    from lrexplorer.runs.folder import lock

    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path))
    held = lock.acquire("cpu", str(tmp_path / "some-run"), wait=False)
    try:
        lab = LabFolder(
            start_lab({"methods": ["base"], "paraphrases": [1], "seeds": 1, "epochs": 1.0, "budget": "epochs"})
        )
        _wait(lab, lambda: lab.status().get("state") == "queued" and "waiting" in lab.status().get("message", ""))
        assert "some-run" in lab.status()["message"] and lab.results() is None
    finally:
        held.close()
    _wait(lab, lambda: lab.status().get("state") in FINAL_STATES)
    assert lab.status()["state"] == "completed" and lab.results()["results"][0]["mean"] is not None
