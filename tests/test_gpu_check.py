"""bench/gpu_check.py: its CPU path runs real SFTTrainer and Trainer steps of the tiny config, and a preset
too large for a card is cut to fewer layers until the estimate fits."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from lrexplorer.memory.architecture import from_config
from lrexplorer.memory.estimate import estimate
from lrexplorer.memory.presets import find_preset
from lrexplorer.memory.setup import TrainingSetup

PATH = Path(__file__).resolve().parents[1] / "bench" / "gpu_check.py"


def bench():
    spec = importlib.util.spec_from_file_location("gpu_check", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_preset_that_does_not_fit_is_built_with_fewer_layers():
    gc = bench()
    config = find_preset("Llama-3.1-8B").config
    setup = TrainingSetup(max_length=512, optim="adamw_torch")
    total = 40 * 2**30
    cut = gc.fitting_config(config, from_config(config), setup, total)
    assert cut["num_hidden_layers"] < config["num_hidden_layers"]
    assert estimate(from_config(cut), setup).peak_bytes <= gc.FIT_SHARE * total
    doubled = {**cut, "num_hidden_layers": 2 * cut["num_hidden_layers"]}
    assert estimate(from_config(doubled), setup).peak_bytes > gc.FIT_SHARE * total, "halved no more than needed"
    assert gc.fitting_config(config, from_config(config), setup, None) == config


@pytest.mark.slow
def test_cpu_path_runs_both_real_trainers_beside_the_estimate(capsys):
    rows = bench().main(["--device", "cpu", "--max_length", "32", "--batch", "2"])
    assert [r["trainer"] for r in rows] == ["sft", "transformers"]
    for r in rows:
        assert "failure" not in r, r
        assert r["reserved"] is None and r["nvml_total"] is None and r["layers"] == 4
        assert abs(r["estimate"] / r["allocated"] - 1) <= 0.10, r
    assert rows[0]["estimate"] != rows[1]["estimate"], "the fused head and the full logits differ"
    assert "| builtin:tiny | 4 | sft |" in capsys.readouterr().out
