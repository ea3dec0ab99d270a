"""A view-only session of a class (`lrexplorer app --share`, no teacher token) changes nothing on the server,
even when it forges the widget events the page greys out (the server, not the browser, decides that a
widget is disabled, and Streamlit drops the events of a disabled widget; the actions check the role again): no run started, stopped, resumed, deleted or merged,
no lab, range test or sweep, no chat reply generated, no simulation; and it cannot make the server read its
files: a path answers with the same words whether or not it exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers.run_folders import make_run
from helpers.runs import save_tiny_hub_model
from streamlit.testing.v1 import AppTest

from lrexplorer.core.resources import APP_SCRIPT

TOKEN = "teacher-token-for-the-class-0001"


@pytest.fixture
def classroom(tmp_path, monkeypatch) -> Path:
    """A class session's environment over a runs folder holding one finished run with a model."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("LRX_RUNS_DIR", str(runs))
    monkeypatch.setenv("LRX_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("LRX_SHARE", "1")
    monkeypatch.setenv("LRX_TEACHER_TOKEN", TOKEN)
    run_dir = make_run(runs, "done")
    save_tiny_hub_model(run_dir / "final_model")
    return runs


def page(script: str, query: dict[str, str] | None = None, token: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=120)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if token:
        at.query_params["token"] = token
    at.switch_page(f"page_scripts/{script}.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def forged(widget: Any) -> Any:
    """The widget as a hand-made browser message would reach the server: the page greyed it out, the message
    does not care (AppTest refuses to touch a disabled widget, as a browser does)."""
    assert widget.disabled if hasattr(widget, "disabled") else widget.proto.disabled
    widget.proto.disabled = False
    return widget


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_start_on_train_is_greyed_out_and_a_forged_click_starts_nothing(classroom):
    before = files(classroom)
    at = page("train")
    forged(at.button(key="train.start")).click().run()
    assert not at.exception and files(classroom) == before


def test_delete_stop_resume_and_merge_on_runs_refuse_a_forged_event(classroom):
    before = files(classroom)
    at = page("runs", {"run": "done"})
    forged(at.button(key="runs.delete")).click().run()
    at.session_state["runs.confirm_delete"] = "done"  # as if the confirmation had been shown
    at.run()
    if at.button(key="runs.delete_yes") is not None:
        at.button(key="runs.delete_yes").click().run()
    assert (classroom / "done").is_dir() and files(classroom) == before


def test_a_forged_chat_message_generates_nothing(classroom):
    at = page("train", {"run": "done"})
    forged(at.chat_input(key="chat.input")).set_value("How much is 17 + 72?").run()
    key = f"chat.history.{classroom / 'done' / 'final_model'}"
    assert not [m for m in at.session_state[key] if m["role"] == "assistant" and m["content"]]


def test_the_chat_itself_refuses_a_view_only_session(classroom):
    """Behind the greyed-out input, the reply's generator checks the role before it loads any model."""

    def script() -> None:
        from pathlib import Path

        import streamlit as st

        from lrexplorer.app.common import run_chat

        notes: list[str] = []
        pieces = list(run_chat._stream(Path("no-model-here"), [{"role": "user", "content": "Hi"}], {}, notes))
        st.write(f"pieces={pieces}")
        st.write(" ".join(notes))

    at = AppTest.from_function(script, default_timeout=60).run()
    shown = [m.value for m in at.markdown]
    assert "pieces=[]" in shown and any("view-only session" in m for m in shown)


def test_the_labs_and_tunings_starts_refuse_a_forged_click(classroom):
    before = files(classroom)
    knowledge = page("knowledge")
    forged(knowledge.button(key="knowledge.start")).click().run()
    tune = page("tune")
    for key in ("tune.start_range", "tune.start_sweep"):
        forged(tune.button(key=key)).click().run()
    assert not knowledge.exception and not tune.exception and files(classroom) == before


def test_a_path_answers_as_a_missing_one_for_a_view_only_session(classroom, tmp_path, monkeypatch):
    config = tmp_path / "secret" / "config.json"
    config.parent.mkdir()
    config.write_text('{"model_type": "llama", "hidden_size": 64}')

    def memory_error(model: str) -> str:
        at = page("memory", {"model": model})
        return " ".join(e.value for e in at.error).replace(model, "MODEL")

    exists, missing = memory_error(str(config)), memory_error(str(tmp_path / "nowhere" / "config.json"))
    assert exists == missing and "reads no file" in exists
    # A Hub-like name that is a folder here (the run's, relative to the working folder) and one nobody has.
    monkeypatch.chdir(classroom.parent)
    assert memory_error("runs/done") == memory_error("nobody-has/this-model")


def test_the_teachers_link_may_act(classroom):
    at = page("train", token=TOKEN)
    assert not at.button(key="train.start").disabled
    runs = page("runs", {"run": "done"}, token=TOKEN)
    assert not runs.button(key="runs.delete").disabled
