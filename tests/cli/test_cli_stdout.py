"""A command's stdout carries its output alone: what libraries print while it runs goes to stderr, so
`lrexplorer ... --json | jq` works. DeepSpeed, installed here, binds a logging handler to sys.stdout when it is
imported (inside transformers' Trainer import) and logs "Setting accelerator to CPU" at once."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.run_folders import append, make_run, record

from lrexplorer.cli import main
from lrexplorer.cli import schedule as cli_schedule

ROOT = Path(__file__).resolve().parents[2]
FACTS = ROOT / "lrexplorer" / "assets" / "knowledge" / "facts.jsonl"


def lrexplorer(*argv: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-m", "lrexplorer", *argv], capture_output=True, text=True, cwd=cwd, env=environ, timeout=600
    )


def test_a_library_that_logs_to_stdout_while_a_command_runs_reaches_stderr(capsys, monkeypatch):
    """As DeepSpeed does on import: a StreamHandler bound to sys.stdout as the handler runs, and a log at once."""
    real = cli_schedule.run

    def chatty(args):
        logger = logging.getLogger("lrx-test-chatter")
        logger.addHandler(logging.StreamHandler(sys.stdout))
        logger.warning("[WARNING] Setting accelerator to CPU")
        print("a library's print")
        return real(args)

    monkeypatch.setattr(cli_schedule, "run", chatty)
    assert main(["schedule", "--lr_scheduler_type", "cosine", "--max_steps", "4", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["total_steps"] == 4
    assert "Setting accelerator to CPU" in err and "a library's print" in err


@pytest.mark.slow
def test_knowledge_json_is_clean_with_deepspeed_installed(tmp_path):
    pytest.importorskip("deepspeed")
    small = tmp_path / "facts.jsonl"
    small.write_text("".join(FACTS.read_text(encoding="utf-8").splitlines(keepends=True)[:5]), encoding="utf-8")
    done = lrexplorer(
        "knowledge", "--methods", "base,ft", "--paraphrases", "1", "--seeds", "1", "--epochs", "1",
        "--facts", str(small), "--json", "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [r["method"] for r in data["results"]] == ["base", "ft"]
    assert "Setting accelerator to CPU" in done.stderr  # DeepSpeed did speak: on stderr


def test_memory_json_and_runs_json_are_clean(tmp_path):
    data = lrexplorer(
        "memory", "--model", "SmolLM2-135M", "--per_device_train_batch_size", "1", "--max_length", "64",
        "--device", "cpu", "--fp16", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert data.returncode == 0, data.stderr
    assert json.loads(data.stdout)["peak_bytes"] > 0 and "warning: fp16 is ignored on the CPU" in data.stderr
    runs = tmp_path / "runs"
    append(make_run(runs, "done"), record(1), record(2))
    shown = lrexplorer("runs", "show", "done", "--format", "json", cwd=tmp_path, LRX_RUNS_DIR=str(runs))
    assert shown.returncode == 0, shown.stderr
    assert [m["step"] for m in json.loads(shown.stdout)["metrics"]] == [1, 2]
    listed = lrexplorer("runs", "list", "--format", "json", cwd=tmp_path, LRX_RUNS_DIR=str(runs))
    assert [r["run_id"] for r in json.loads(listed.stdout)] == ["done"]
