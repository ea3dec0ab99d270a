"""`lrexplorer train` and `lrexplorer runs`: flags from the catalogue, exit codes, real runs."""

from __future__ import annotations

import json
import os
import time

import pytest
from helpers.run_folders import make_run
from helpers.runs import run_cli

from lrexplorer.catalogues.params import MEMORY, SCHEDULE, TRAIN, fields_for, renamed_for
from lrexplorer.cli import build_parser, main
from lrexplorer.cli.train import build_spec
from lrexplorer.runs.folder import store


def parse(*argv: str):
    return build_parser().parse_args(["train", *argv])


def flags_of(command: str) -> set[str]:
    parser = build_parser()._subparsers._group_actions[0].choices[command]
    return {s for a in parser._actions for s in a.option_strings}


@pytest.mark.parametrize("tool", [TRAIN, SCHEDULE, MEMORY])
def test_every_field_and_old_name_of_a_tool_is_a_flag_of_its_command_and_no_other(tool):
    flags = flags_of(tool)
    assert {f"--{f.name}" for f in fields_for(tool)} <= flags
    assert {f"--{r.old}" for r in renamed_for(tool)} <= flags
    others = {f"--{f.name}" for f in fields_for(None) if tool not in f.tools}
    assert not flags & others, flags & others


def test_config_file_then_flags(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("learning_rate: 1.0e-3\nmax_steps: 7\nwarmup_ratio: 0.2\nlr_scheduler_type: StepLR\n")
    spec = build_spec(parse("--config", str(config), "--max_steps", "9", "--bf16", "false", "--use_peft"))
    assert spec["learning_rate"] == 1e-3 and spec["max_steps"] == 9 and spec["warmup_steps"] == 0.2
    assert spec["bf16"] is False and spec["use_peft"] is True and spec["lr_scheduler_type"] == "StepLR"


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--learning_rate", "-1"], "learning_rate:"),
        (["--fp16", "--bf16"], "fp16:"),
        (["--tf32"], "tf32:"),
        (["--lr_scheduler_kwargs", '{"num_cycle": 2}', "--lr_scheduler_type", "cosine"], "num_cycles"),
        (["--model", "/no/such/model"], "model: no such file or folder"),
        (["--save_safetensors", "false"], "save_safetensors:"),
    ],
)
def test_bad_specs_exit_2_naming_the_field(isolated, capsys, argv, words):
    started = time.monotonic()
    assert main(["train", *argv]) == 2
    assert words in capsys.readouterr().err
    assert time.monotonic() - started < 10  # fails before anything trains
    assert not list(isolated.glob("*")) if isolated.exists() else True


def test_export_writes_the_three_forms(tmp_path, capsys):
    assert main(["train", "--max_steps", "5", "--export", str(tmp_path / "bundle")]) == 0
    names = {os.path.basename(p) for p in capsys.readouterr().out.split()}
    assert {"train.py", "sft.yaml", "accelerate.sh", "initial_model"} <= names
    assert "accelerate launch" in (tmp_path / "bundle" / "accelerate.sh").read_text()


def test_runs_export_of_a_damaged_run_is_one_line_naming_the_problem(isolated, tmp_path, capsys):
    run_dir = make_run(isolated, "damaged")
    (run_dir / store.CONFIG).write_text("learning_rate: [1e-3\nmax_steps: 5\n", encoding="utf-8")
    assert main(["runs", "export", "damaged", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "config.yaml: not valid YAML (line 2" in err and len(err.splitlines()) == 1, err
    (run_dir / store.CONFIG).write_text("learning_rate: -1\nwarmup_steps: -2\n", encoding="utf-8")
    assert main(["runs", "export", "damaged", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "learning_rate" in err and "warmup_steps" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_train_builtin_on_a_fresh_directory(isolated, tmp_path):
    """`lrexplorer train --max_steps N --output_dir DIR`: built-in model and data, no network, exit 0."""
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    result = run_cli(["train", "--max_steps", "6", "--output_dir", "out"], cwd=fresh)
    assert result.returncode == 0, result.stderr
    assert "step 6/6" in result.stdout and "completed" in result.stdout
    assert (fresh / "out" / store.FINAL / "model.safetensors").is_file()
    assert [r["step"] for r in store.read_metrics(fresh / "out") if "loss" in r] == list(range(1, 7))


@pytest.mark.slow
def test_diverging_run_exits_nonzero_and_runs_commands_see_it(isolated, capsys):
    result = run_cli(
        ["train", "--learning_rate", "1e30", "--max_steps", "40", "--run_id", "nan-run"], cwd=isolated.parent
    )
    assert result.returncode == 1, result.stderr
    assert "loss became nan" in result.stderr or "loss became inf" in result.stderr
    status = store.read_status(isolated / "nan-run")
    assert status["state"] == "failed" and status["global_step"] < 40

    assert main(["runs", "list"]) == 0
    assert "nan-run" in capsys.readouterr().out
    assert main(["runs", "show", "nan-run", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"]["state"] == "failed" and shown["metrics"]
    assert main(["runs", "stop", "nan-run"]) == 0  # already ended: reports it, nothing to stop
    assert "failed" in capsys.readouterr().out
    assert main(["runs", "resume", "nan-run"]) == 2  # no checkpoint before the divergence
    assert "no checkpoint" in capsys.readouterr().err
    assert main(["runs", "show", "../etc"]) == 2
