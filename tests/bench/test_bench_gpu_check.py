"""bench/gpu_check.py: its CPU path runs real SFTTrainer and Trainer steps of the tiny config, a preset too
large for a card is cut to fewer layers until the estimate fits, and the processes part trains two gloo
ranks on the CPU (FSDP refused there, with the reason) and says how many GPUs it found when under two."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from lrexplorer.catalogues.architecture import from_config
from lrexplorer.catalogues.presets import find_preset
from lrexplorer.core.facts import detect_facts
from lrexplorer.memory.analytic.estimate import estimate
from lrexplorer.memory.setup import TrainingSetup

PATH = Path(__file__).resolve().parents[2] / "bench" / "gpu_check.py"


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
    rows = bench().main(["--device", "cpu", "--part", "memory", "--max_length", "32", "--batch", "2"])
    assert [r["trainer"] for r in rows] == ["sft", "transformers"]
    for r in rows:
        assert "failure" not in r, r
        assert r["reserved"] is None and r["nvml_total"] is None and r["layers"] == 4
        assert abs(r["estimate"] / r["allocated"] - 1) <= 0.10, r
    assert rows[0]["estimate"] != rows[1]["estimate"], "the fused head and the full logits differ"
    assert "| builtin:tiny | 4 | sft |" in capsys.readouterr().out


@pytest.mark.slow
def test_processes_part_on_the_cpu_trains_two_gloo_ranks_and_says_why_fsdp_did_not_run(tmp_path, monkeypatch):
    monkeypatch.setenv("LRX_LOCK_DIR", str(tmp_path / "locks"))
    fsdp, ddp = bench().process_rows("cpu", 3, tmp_path)
    assert fsdp["run"] == "FSDP2 full shard" and "FSDP on GPUs only" in fsdp["skipped"], fsdp
    assert ddp["run"] == "DDP" and "skipped" not in ddp, ddp  # a row without "skipped" is a completed run
    assert "rank 1 completed" in (ddp["run_dir"] / "ranks" / "rank-1.log").read_text()
    assert ddp["tokens_per_s"] > 0 and ddp["peak_bytes"] > 0, ddp
    # Rank 0's MemTracker step against the run's own estimate of one CPU process (each holds a whole copy):
    # held to the 10 % the single-process CPU check above and the run's own over-estimate warning use.
    assert abs(ddp["error"]) <= 0.10, ddp


def test_processes_part_without_two_gpus_says_how_many_it_found(tmp_path, capsys):
    gc = bench()
    gpus = len(detect_facts().gpu_capabilities)
    if gpus >= 2:
        pytest.skip("this machine has two GPUs: the part runs")
    rows = gc.process_rows("cuda", 3, tmp_path)
    assert rows == [{"run": "FSDP2 full shard and DDP", "skipped": f"needs 2 GPUs; this machine has {gpus}"}]
    assert f"Not run: needs 2 GPUs; this machine has {gpus}." in capsys.readouterr().out
    assert not list(tmp_path.iterdir()), "nothing was started"


def test_an_unknown_part_is_refused_naming_the_parts(capsys):
    with pytest.raises(SystemExit) as exit_:
        bench().main(["--device", "cpu", "--part", "memory,speed"])
    assert exit_.value.code == 2
    assert "--part takes memory, attention, processes" in capsys.readouterr().err
