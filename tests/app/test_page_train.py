"""The Train page through Streamlit's AppTest: the form is the catalogue, errors name the field, the
pre-flight panel matches the engines, and real runs of the built-in model start, update, stop,
resume and finish from the page. Every step asserts that no exception (stException) is shown."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.app_pages import run
from helpers.run_folders import append, make_run, record
from streamlit.testing.v1 import AppTest

from lrexplorer.catalogues.params import GROUPS, TRAIN, by_group, fields_for
from lrexplorer.runs import launcher
from lrexplorer.runs.folder import store
from lrexplorer.schedules import compute_curve

ROOT = Path(__file__).resolve().parents[2]


def array(value) -> np.ndarray:
    """Plotly writes numpy arrays as base64 typed arrays ({"dtype", "bdata"}); lists stay lists."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value)


def train_page(run_id: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "main.py"), default_timeout=120)
    if run_id:
        at.query_params["run"] = run_id
    at.switch_page("page_scripts/train.py")
    return run(at)


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def chart(at: AppTest, title: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        if (spec["layout"].get("title") or {}).get("text", "").startswith(title):
            return {
                t["name"]: (array(t.get("x", [])).astype(float), array(t.get("y", [])).astype(float))
                for t in spec["data"]
            }
    raise AssertionError(f"no chart titled {title!r}")


def start_button(at: AppTest):
    return at.button(key="train.start")


def test_form_is_the_catalogue_grouped_with_help(runs):
    at = train_page()
    expanders = {e.label: e for e in at.expander}
    for group, title in GROUPS.items():
        inside = {
            w.key for kind in ("number_input", "text_input", "selectbox", "toggle") for w in expanders[title].get(kind)
        }
        assert inside == {f"train.{p.name}" for p in by_group()[group]}, title
    widgets = {w.key: w for kind in ("number_input", "text_input", "selectbox", "toggle") for w in at.get(kind)}
    for p in fields_for(TRAIN):  # every training field has its widget, with the catalogue's help
        name = p.name
        w = widgets.get(f"train.{name}")
        assert w is not None, f"no widget for {name}"
        assert p.help in w.help, name
    assert widgets["train.model"].value == "builtin:tiny" and widgets["train.dataset"].value == "builtin:arithmetic"
    assert not start_button(at).disabled and not errors(at)
    # The predicted curve is the Schedules engine's for 2,000 examples / batch 8 = 250 updates.
    lr = chart(at, "Predicted learning rate")["linear"][1]
    assert np.allclose(
        lr, compute_curve("linear", 5e-4, 250, 0).lr[np.round(chart(at, "Predicted")["linear"][0]).astype(int)]
    )
    labels = {m.label: m.value for m in at.metric}
    assert (
        labels["Updates"] == "250" and labels["Sequences"] == "2,000" and "GiB" in labels["Estimated peak on the CPU"]
    )


def test_validation_errors_name_the_field_and_block_start(runs):
    at = train_page()
    at.number_input(key="train.learning_rate").set_value(-1.0)
    at.text_input(key="train.lr_scheduler_kwargs").set_value('{"num_cycles": ')
    run(at)
    text = " ".join(errors(at))
    assert "**learning_rate**" in text and "> 0" in text
    assert "**lr_scheduler_kwargs**" in text and "not valid JSON" in text
    assert start_button(at).disabled
    at.number_input(key="train.learning_rate").set_value(1e-3)
    at.text_input(key="train.lr_scheduler_kwargs").set_value("{}")
    at.selectbox(key="train.attn_implementation").set_value("flash_attention_2")
    run(at)
    assert any("**attn_implementation**" in e and "flash-attn" in e for e in errors(at))


def test_warnings_before_launch(runs):
    at = train_page()
    at.number_input(key="train.warmup_steps").set_value(300.0)
    at.number_input(key="train.learning_rate").set_value(0.05)
    run(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "The first update uses LR 0" in warnings
    assert "Warmup (300 updates) is as long as the run (250 updates)" in warnings
    assert "learning_rate 0.05 is high" in warnings
    # The built-in model has 512 positions: a longer max_length is refused before the memory check.
    at.number_input(key="train.per_device_train_batch_size").set_value(16384)
    at.number_input(key="train.max_length").set_value(512)
    run(at)
    assert any(e.startswith("Will not fit") for e in errors(at)), errors(at)


def test_reset_and_unknown_run(runs):
    at = train_page()
    at.number_input(key="train.learning_rate").set_value(2e-3)
    run(at)
    at.button(key="train.reset").click()
    run(at)
    assert at.number_input(key="train.learning_rate").value == 5e-4
    at = train_page("no-such-run")
    assert any("No run 'no-such-run'" in e for e in errors(at))


def test_run_view_of_a_finished_run_from_its_folder(runs):
    kernel = {"implementation": "sdpa", "kernel": "SDPA flash kernel (CPU)", "how": "the profiler"}
    run_dir = make_run(runs, "done", global_step=30, max_steps=30, message="trained 30 steps", attention=kernel)
    append(
        run_dir,
        *(record(s) for s in range(1, 31)),
        {"step": 30, "eval_loss": 4.2, "epoch": 3.0},
        {"step": 30, "train_runtime": 50.0, "train_loss": 4.9},
    )
    at = train_page("done")
    assert at.query_params["run"] == ["done"] or at.query_params["run"] == "done"
    assert any("kernel that ran: SDPA flash kernel (CPU)" in c.value for c in at.caption), "the attention that ran"
    assert len(chart(at, "Loss")["loss"][0]) == 30 and list(chart(at, "Loss")["eval loss"][1]) == [4.2]
    labels = [m.label for m in at.metric]
    assert {"last loss", "mean train loss", "last eval loss"} <= set(labels)
    assert len(labels) == len(set(labels)) and "tokens/s" not in labels, "an ended run's metrics are shown once"
    charts = at.get("plotly_chart")
    assert all(json.loads(c.proto.config)["displayModeBar"] is False for c in charts), "no toolbar over the legends"
    memory = next(
        json.loads(c.proto.spec) for c in charts if "Memory" in json.loads(c.proto.spec)["layout"]["title"]["text"]
    )
    assert memory["layout"]["yaxis"]["rangemode"] == "tozero", "RSS noise is not blown up to fill the axis"
    assert any("trained 30 steps" in s.value for s in at.success)
    at.button(key="live.clone").click()
    run(at)
    assert "run" not in at.query_params and at.number_input(key="train.learning_rate").value == 1e-3


def wait_page(at: AppTest, check, timeout: float = 240.0, what: str = "") -> AppTest:
    """Rerun the page (AppTest does not fire run_every) until `check(at)` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run(at)
        if check(at):
            return at
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}: {[m.value for m in at.markdown][:3]}")


def state_of(at: AppTest) -> str:
    return next(
        (m.value.split("**")[1] for m in at.markdown if m.value.startswith(":material/") and "**" in m.value), ""
    )


def start_from_form(at: AppTest, **numbers) -> str:
    at.selectbox(key="train.dataset").set_value("builtin:facts")
    for name, value in numbers.items():
        at.number_input(key=f"train.{name}").set_value(value)
    run(at)
    assert not errors(at), errors(at)
    start_button(at).click()
    run(at)
    run_id = at.query_params["run"]
    return run_id[0] if isinstance(run_id, list) else run_id


@pytest.mark.slow
def test_real_run_from_start_to_a_chat_with_the_model(runs):
    at = train_page()
    run_id = start_from_form(at, max_steps=6, save_steps=3.0, learning_rate=2e-3, warmup_steps=1.0)
    assert (runs / run_id / store.STATUS).is_file()
    seen = []
    wait_page(
        at, lambda a: seen.append(len(chart(a, "Loss")["loss"][0])) or state_of(a) == "completed", what="completion"
    )
    assert seen[-1] == 6 and len(set(seen)) > 1, f"the loss chart gains points as the run goes: {seen}"
    lr = chart(at, "Learning rate")
    logged_x, logged_y = lr["logged"]
    _predicted_x, predicted_y = lr["predicted"]
    assert np.allclose(logged_y, predicted_y[logged_x.astype(int) - 1], rtol=1e-9), "logged LR = predicted curve"
    assert any("final_model" in m.value for m in at.markdown)
    at.number_input(key="chat.max_new_tokens").set_value(8)
    at.chat_input(key="chat.input").set_value("Who founded Zorvania?")
    run(at)
    assert [m.name for m in at.chat_message] == ["user", "assistant"] and not errors(at), "the reply is shown"


@pytest.mark.slow
def test_stop_then_resume_from_the_page(runs):
    at = train_page()
    run_id = start_from_form(at, max_steps=400, save_steps=1000.0)
    wait_page(at, lambda a: len(chart(a, "Loss")["loss"][0]) >= 1, what="the first logged step")
    at.button(key="live.stop").click()
    run(at)
    assert (runs / run_id / store.STOP).exists()
    wait_page(at, lambda a: state_of(a) == "stopped", timeout=120, what="the stop")
    assert any("stopped on request" in w.value for w in at.warning)
    assert store.checkpoints(runs / run_id), "a stop saves a checkpoint to resume from"
    at.button(key="live.resume").click()
    run(at)
    try:
        wait_page(at, lambda a: state_of(a) in ("queued", "running"), timeout=60, what="the resume")
        assert at.button(key="live.stop") is not None
    finally:
        launcher.stop_run(runs / run_id, grace_s=60)


def test_start_on_a_busy_device_says_who_holds_it(runs):
    from lrexplorer.runs.folder import lock

    held = lock.acquire("cpu", str(runs / "other-run"), wait=False)
    try:
        at = train_page()
        start_button(at).click()
        run(at)
        assert any("the cpu is busy with run" in e for e in errors(at)), errors(at)
        assert "run" not in at.query_params and not list(runs.glob("*")), "no folder for a run that never starts"
    finally:
        held.close()


def test_form_points_to_the_active_run(runs):
    import psutil

    me = psutil.Process()
    make_run(runs, "older", state="completed")
    make_run(runs, "live", state="running", global_step=7, max_steps=250, pid=me.pid, pid_create_time=me.create_time())
    at = train_page()
    text = " ".join(m.value for m in at.markdown)
    assert "Run **live** is running · step 7 of 250" in text and "older" not in text
    links = [e for e in at.get("page_link") if "run=live" in str(e.proto)]
    assert links, "a link opens the active run's live view"
    assert start_button(at) is not None, "the form is still there for the next run"


@pytest.mark.slow
def test_qlora_run_from_the_page_saves_an_adapter_that_generates(runs):
    at = train_page()
    at.toggle(key="train.use_peft").set_value(True)
    at.toggle(key="train.load_in_4bit").set_value(True)
    run(at)
    assert any(m.label.startswith("Estimated peak") for m in at.metric), "the memory pre-flight of the 4-bit run"
    run_id = start_from_form(at, max_steps=4, learning_rate=2e-3)
    wait_page(at, lambda a: state_of(a) == "completed", timeout=500, what="completion")
    final = runs / run_id / store.FINAL
    assert (final / "adapter_model.safetensors").is_file() and not (final / "model.safetensors").exists()
    assert store.read_status(runs / run_id)["quantization"].startswith("4-bit nf4")
    at.number_input(key="chat.max_new_tokens").set_value(6)
    at.chat_input(key="chat.input").set_value("Who founded Zorvania?")
    run(at)
    assert [m.name for m in at.chat_message] == ["user", "assistant"] and not errors(at), "the adapter run chats"
