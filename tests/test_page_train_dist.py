"""The Train form's "Processes and sharding" section through AppTest: the fields are there, what this
machine cannot run is disabled with the reason, and Start hands the launcher a spec of two processes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lrexplorer.runs import launcher, lock
from lrexplorer.runs.validate import detect_facts
from lrexplorer.steps import plan_steps

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def page(tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LRX_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("app_pages/train.py")
    return ran(at)


def ran(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


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

    started = []

    def refuse(spec, *args, **kwargs):
        started.append(spec)
        raise lock.DeviceBusy("cpu", {"run_dir": "another run"})

    monkeypatch.setattr(launcher, "start_run", refuse)
    page.button(key="train.start").click()
    ran(page)
    assert started and started[0]["num_processes"] == 2 and started[0]["fsdp"] is False


def test_too_many_processes_are_refused_naming_the_field(page):
    page.number_input(key="train.num_processes").set_value(4096)
    ran(page)
    assert any("**num_processes**" in e.value and "between 1 and" in e.value for e in page.error)
    assert page.button(key="train.start").disabled
