"""The Train form's "Processes and sharding" section through AppTest: the fields are there, what this
machine cannot run is disabled with the reason, DeepSpeed's ZeRO is offered on CPU processes, and Start
hands the launcher a spec of two processes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from helpers.runs import isolate_env
from streamlit.testing.v1 import AppTest

from lrexplorer.core.facts import detect_facts
from lrexplorer.runs import launcher
from lrexplorer.runs.folder import lock, store
from lrexplorer.runs.steps import plan_steps

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def page(tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LRX_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "main.py"), default_timeout=120)
    at.switch_page("page_scripts/train.py")
    return ran(at)


def ran(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def specs_started(page: AppTest, monkeypatch) -> list:
    """Press Start with the launcher replaced by one that records the spec and reports a busy device."""
    started = []

    def refuse(spec, *args, **kwargs):
        started.append(spec)
        raise lock.DeviceBusy("cpu", {"run_dir": "another run"})

    monkeypatch.setattr(launcher, "start_run", refuse)
    page.button(key="train.start").click()
    ran(page)
    return started


def logged_steps(run_dir: Path) -> int:
    return sum(1 for r in store.read_metrics(run_dir) if "loss" in r)


def test_processes_and_sharding_section(page, monkeypatch):
    section = next(e for e in page.expander if e.label == "Processes and sharding")
    keys = {w.key for kind in ("number_input", "text_input", "selectbox", "checkbox") for w in section.get(kind)}
    assert keys == {"train.num_processes", "train.fsdp", "train.fsdp_config", "train.deepspeed"}
    captions = " ".join(c.value for c in section.caption)
    facts = detect_facts()
    assert "This machine:" in captions
    if importlib.util.find_spec("deepspeed") is None:
        assert page.selectbox(key="train.deepspeed").disabled and "deepspeed is not installed" in captions
    if not facts.gpu_capabilities:
        assert "no GPU" in captions and "FSDP needs GPUs" in captions
        assert f"Up to {min(8, facts.cpu_cores)} processes" in captions
        assert page.checkbox(key="train.fsdp").disabled and page.text_input(key="train.fsdp_config").disabled

    page.number_input(key="train.num_processes").set_value(2)
    ran(page)
    assert not page.error, [e.value for e in page.error]
    # Two processes share the 2,000 examples: the planned updates are the Trainer's count on two ranks.
    labels = {m.label: m.value for m in page.metric}
    expected = plan_steps(
        num_examples=2000, per_device_train_batch_size=8, num_train_epochs=1, world_size=2
    ).total_steps
    assert labels["Updates"] == f"{expected:,}" and expected == 125
    started = specs_started(page, monkeypatch)
    assert started and started[0]["num_processes"] == 2 and started[0]["fsdp"] is False


def test_zero_presets_are_offered_on_cpu_processes(page, monkeypatch):
    pytest.importorskip("deepspeed")
    if detect_facts().gpu_capabilities:
        pytest.skip("checks what CPU processes are offered")
    assert not page.selectbox(key="train.deepspeed").disabled
    page.number_input(key="train.num_processes").set_value(2)
    page.selectbox(key="train.deepspeed").set_value("zero3")
    ran(page)
    assert not page.error, [e.value for e in page.error]
    started = specs_started(page, monkeypatch)
    assert started and started[0]["deepspeed"] == "zero3" and started[0]["num_processes"] == 2


def test_too_many_processes_are_refused_naming_the_field(page):
    page.number_input(key="train.num_processes").set_value(4096)
    ran(page)
    assert any("**num_processes**" in e.value and "between 1 and" in e.value for e in page.error)
    assert page.button(key="train.start").disabled


@pytest.mark.slow
def test_two_process_run_from_the_page_stops_resumes_and_completes(tmp_path, monkeypatch):
    """Start, Stop and Resume are the page's own buttons; the run is real (two CPU processes over gloo)."""
    from test_page_train import start_from_form, state_of, train_page, wait_page

    runs = isolate_env(monkeypatch, tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = train_page()
    at.number_input(key="train.num_processes").set_value(2)
    run_id = start_from_form(at, max_steps=120, save_steps=1000.0, logging_steps=1.0)
    run_dir = runs / run_id
    assert store.read_config(run_dir)["num_processes"] == 2
    assert any("2 processes (DDP; the charts show rank 0)" in c.value for c in at.caption)
    wait_page(at, lambda a: logged_steps(run_dir) >= 2, what="two logged steps")
    at.button(key="live.stop").click()
    ran(at)
    wait_page(at, lambda a: state_of(a) == "stopped", timeout=180, what="the stop")
    stopped = store.read_status(run_dir)
    assert 2 <= stopped["global_step"] < 120 and store.checkpoints(run_dir), stopped
    assert (run_dir / "ranks" / "rank-1.log").is_file(), "rank 1 keeps its own log"
    at.button(key="live.resume").click()
    ran(at)
    wait_page(at, lambda a: state_of(a) == "completed", timeout=400, what="the resumed run's end")
    done = store.read_status(run_dir)
    assert done["global_step"] == 120, done
    steps = [r["step"] for r in store.read_metrics(run_dir) if "loss" in r]
    assert steps[-1] == 120 and max(steps) == 120 and stopped["global_step"] + 1 in steps, "resumed after the stop"
    assert not at.error, [e.value for e in at.error]
