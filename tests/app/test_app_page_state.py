"""The one state model of the pages (`app/common/page_state.py`) through the whole app (AppTest of the
main script): an edit is written to the address, a link's query is applied on every arrival, arriving with
no setting keeps the page's values, and a page never changes another page's values. The browser test
(`test_browser_pages.py`) walks the same through Chromium's history."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lrexplorer.app.pages import PAGES

APP = str(Path(__file__).resolve().parents[2] / "lrexplorer" / "app" / "main.py")


@pytest.fixture
def app(tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LRX_LOCK_DIR", str(tmp_path / "locks"))
    return AppTest.from_file(APP, default_timeout=120).run()


def go(at: AppTest, page: str, **query: str) -> AppTest:
    """Arrive at `page` with exactly `query` in the address (a link, or the sidebar with none)."""
    for key in list(at.query_params):
        del at.query_params[key]
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(PAGES[page].script).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def address(at: AppTest) -> dict[str, str]:
    return {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}


def test_an_edit_is_written_to_the_address_and_read_back_by_a_fresh_session(app: AppTest):
    at = go(app, "schedules")
    at.multiselect(key="sched.names").set_value(["OneCycleLR", "CosineAnnealingWarmRestarts"]).run()
    at.number_input(key="sched.warmup_steps").set_value(100.0).run()
    at.run()  # the run after an edit writes it
    written = address(at)
    assert written == {"schedule": "OneCycleLR,CosineAnnealingWarmRestarts", "warmup": "100"}
    fresh = AppTest.from_file(APP, default_timeout=120).run()  # a reload or a shared link: a new session
    fresh = go(fresh, "schedules", **written)
    assert fresh.multiselect(key="sched.names").value == ["OneCycleLR", "CosineAnnealingWarmRestarts"]
    assert fresh.number_input(key="sched.warmup_steps").value == 100.0


def test_a_link_applies_on_every_arrival_not_once(app: AppTest):
    link = {"schedule": "OneCycleLR", "lr": "5e-05", "steps": "1000", "warmup": "0"}
    at = go(app, "schedules", **link)
    assert at.multiselect(key="sched.names").value == ["OneCycleLR"]
    at.number_input(key="sched.learning_rate").set_value(5e-4).run()
    at.run()
    at = go(at, "guide", lesson="schedulers")
    at = go(at, "schedules", **link)  # the same link, a second time
    assert at.multiselect(key="sched.names").value == ["OneCycleLR"]
    assert at.number_input(key="sched.learning_rate").value == 5e-5
    memory = {"model": "Llama-3.2-1B", "max_length": "4096", "activation_checkpointing": "true"}
    at = go(at, "memory", **memory)
    at.number_input(key="mem.max_length").set_value(1024).run()
    at.toggle(key="mem.activation_checkpointing").set_value(False).run()
    at = go(at, "guide", lesson="checkpointing")
    at = go(at, "memory", **memory)
    assert at.number_input(key="mem.max_length").value == 4096 and at.toggle(key="mem.activation_checkpointing").value


def test_a_round_trip_through_every_page_keeps_every_value(app: AppTest):
    at = go(app, "train")
    at.number_input(key="train.learning_rate").set_value(1e-3).run()
    at.number_input(key="train.max_length").set_value(96).run()
    at.run()
    train_address = address(at)
    assert train_address == {"learning_rate": "0.001", "max_length": "96"}
    for page in PAGES:
        if page != "train":
            at = go(at, page)  # the sidebar: no setting in the address
    at = go(at, "train")
    assert (
        at.number_input(key="train.max_length").value == 96 and at.number_input(key="train.learning_rate").value == 1e-3
    )
    assert not at.error, [e.value for e in at.error]  # not a zeroed form with an error per field


def test_the_tune_page_edits_the_train_form_it_tunes(app: AppTest):
    at = go(app, "tune")
    at.number_input(key="tune.run.max_steps").set_value(7).run()
    planned = [row for df in at.dataframe for row in df.value.to_dict("records") if "predicted time" in row]
    assert planned and not [row for row in planned if row["skipped because"]], planned  # no "got 0"
    assert "None" not in {str(v) for row in planned for v in row.values()}
    at = go(at, "train")
    assert at.number_input(key="train.max_steps").value == 7
    assert at.number_input(key="train.max_length").value == 128 and not at.error


def test_a_value_the_link_gets_wrong_is_reported_and_the_rest_applies(app: AppTest):
    at = go(app, "train", learning_rate="fast", max_length="64", nonsense="1")
    warnings = " ".join(w.value for w in at.warning)
    assert "`learning_rate` ignored" in warnings and "`nonsense` ignored" in warnings
    assert at.number_input(key="train.max_length").value == 64
    assert at.number_input(key="train.learning_rate").value == 5e-4  # its default
