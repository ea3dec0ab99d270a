"""The Train page's data view and packed plan through AppTest: the totals are those of the run's real
SFTTrainer, the examples mark the loss and the packing boundaries, and the link to the Schedules page carries
the planned number of updates."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import pytest
from helpers.app_pages import run
from helpers.sft_data import real_trainer, trainer_max_steps
from streamlit.testing.v1 import AppTest

from lrexplorer.core.facts import Facts
from lrexplorer.runs.spec import RunSpec

ROOT = Path(__file__).resolve().parents[2]
CPU = Facts(gpu_capabilities=(), cpu_bf16=False, flash_attn=False)


def metrics(at: AppTest) -> list[tuple[str, str]]:
    return [(m.label, m.value) for m in at.metric]


@pytest.mark.slow
def test_packed_data_view_and_plan_are_the_real_trainers(runs, tmp_path):
    at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "main.py"), default_timeout=180)
    at.switch_page("page_scripts/train.py")
    run(at)
    at.toggle(key="train.packing").set_value(True)
    at.number_input(key="train.max_length").set_value(64)
    at.toggle(key="train.assistant_only_loss").set_value(True)
    at.number_input(key="train.num_train_epochs").set_value(2.0)
    run(at)
    given = {"packing": True, "max_length": 64, "assistant_only_loss": True, "num_train_epochs": 2.0}
    values = RunSpec.from_dict(given, CPU).values
    trainer = real_trainer(values, tmp_path / "run")
    shown = dict(metrics(at))
    assert shown["Sequences"] == f"{len(trainer.train_dataset):,}"
    assert shown["Tokens"] == f"{sum(len(x) for x in trainer.train_dataset['input_ids']):,}"
    in_loss = sum(int((b["labels"][..., 1:] != -100).sum()) for b in trainer.get_train_dataloader())
    assert shown["Tokens in the loss"] == f"{in_loss:,}"
    updates = trainer_max_steps(values, tmp_path / "run2")
    assert shown["Updates"] == f"{updates:,}"
    (link,) = [e for e in at.get("page_link") if e.proto.label.startswith("Compare schedules")]
    query = parse_qs(link.proto.query_string)
    assert query["steps"] == [str(updates)] and query["schedule"] == ["linear"] and query["lr"] == ["0.0005"]
    html = " ".join(str(e.proto.body) for e in at.get("html"))
    assert "│" in html and "color:#8a8a8a" in html  # packed examples joined, prompts masked
    assert "&lt;|user|&gt;" in html  # the data is escaped, never read as HTML


def test_a_hub_dataset_is_not_prepared_on_the_page(runs):
    at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "main.py"), default_timeout=120)
    at.switch_page("page_scripts/train.py")
    at.query_params["dataset"] = "someone/some-dataset"  # a link naming a Hub dataset
    run(at)
    captions = " ".join(c.value for c in at.caption)
    assert "reads only built-in and local datasets" in captions and "`lrexplorer data`" in captions
