"""`lrexplorer knowledge`: bad input exits 2 with one line naming the field; the JSON has the documented shape."""

from __future__ import annotations

import json
import signal

import pytest

from lrexplorer.cli import main
from lrexplorer.knowledge.assets import FACTS_FILE


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["knowledge", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--methods", "base,retrieval"], ["--methods", "'retrieval'", "base, ft, rag, ft+rag"]),
        (["--methods", ","], ["--methods", "at least one"]),
        (["--paraphrases", "0,2"], ["--paraphrases", "0", "1..8"]),
        (["--paraphrases", "9"], ["--paraphrases", "9", "1..8"]),
        (["--paraphrases", "one"], ["--paraphrases", "whole numbers"]),
        (["--seeds", "0"], ["--seeds", ">= 1", "<= 20"]),
        (["--seeds", "1,2"], ["--seeds", "an integer"]),
        (["--epochs", "0"], ["--epochs", "> 0"]),
        (["--learning_rate", "nan"], ["--learning_rate", "number"]),
        (["--budget", "steps"], ["--budget", "epochs, updates"]),
        (["--top_k", "0"], ["--top_k", ">= 1", "<= 50"]),
        (["--model", "/nonexistent"], ["--model", "config.json"]),
    ],
)
def test_bad_flags_exit_2_with_one_line_naming_the_field(capsys, argv, words):
    code, out, err = cli(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err


def test_bad_fact_file_names_field_and_line(capsys, tmp_path):
    rows = FACTS_FILE.read_text(encoding="utf-8").splitlines()[:3]
    broken = json.loads(rows[2])
    del broken["candidates"]
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join([*rows[:2], json.dumps(broken)]) + "\n", encoding="utf-8")
    code, _, err = cli(capsys, "--facts", str(path))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "line 3" in err and "'candidates'" in err


def test_paraphrase_limit_follows_the_fact_file(capsys, tmp_path):
    row = json.loads(FACTS_FILE.read_text(encoding="utf-8").splitlines()[0])
    row["paraphrases"] = row["paraphrases"][:2]
    path = tmp_path / "two.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    code, _, err = cli(capsys, "--facts", str(path), "--paraphrases", "3")
    assert code == 2 and "1..2" in err


@pytest.mark.slow
def test_json_results_have_the_documented_shape(capsys, tmp_path):
    facts = tmp_path / "few.jsonl"
    facts.write_text("\n".join(FACTS_FILE.read_text(encoding="utf-8").splitlines()[:10]) + "\n", encoding="utf-8")
    out_dir = tmp_path / "out"
    code, out, err = cli(
        capsys,
        "--facts",
        str(facts),
        "--paraphrases",
        "1,2",
        "--seeds",
        "2",
        "--epochs",
        "1",
        "--output_dir",
        str(out_dir),
        "--json",
    )
    assert code == 0, err
    payload = json.loads(out)
    rows = [(r["method"], r["paraphrases"]) for r in payload["results"]]
    assert rows == [("base", None), ("ft", 1), ("ft", 2), ("rag", None), ("ft+rag", 1), ("ft+rag", 2)]
    for r in payload["results"]:
        assert len(r["accuracy"]) == 2 and all(0 <= a <= 1 for a in r["accuracy"])
        assert r["mean"] == pytest.approx(sum(r["accuracy"]) / 2)
        assert r["std"] >= 0 and len(r["exact_match"]) == 2
    assert payload["questions"] == 30 and payload["chance"] == pytest.approx(0.25) and payload["stopped"] is False
    assert json.loads((out_dir / "results.json").read_text()) == payload
    records = [json.loads(line) for line in (out_dir / "log.jsonl").read_text().splitlines()]
    assert {(r["paraphrases"], r["seed"]) for r in records} == {(1, 0), (2, 0), (1, 1), (2, 1)}
    assert all(r["method"] == "ft" and "epoch" in r for r in records)
    assert any("loss" in r for r in records)
    assert "ETA" in err


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_leaves_the_lab_folder_with_a_final_state(tmp_path, sig):
    """`kill PID` (SIGTERM, what a service manager or `timeout` sends) ends a lab as Ctrl-C does: stopped after
    the current step, with its partial results, never left `running`."""
    import os
    import subprocess
    import sys
    import time

    from lrexplorer.knowledge.lab_folder import FINAL_STATES, LabFolder

    facts = FACTS_FILE.read_text(encoding="utf-8").splitlines()[:6]
    (tmp_path / "facts.jsonl").write_text("\n".join(facts) + "\n", encoding="utf-8")
    lab = LabFolder(tmp_path / "lab")
    argv = ["knowledge", "--methods", "base,ft", "--paraphrases", "1", "--seeds", "1", "--epochs", "500"]
    argv += ["--facts", str(tmp_path / "facts.jsonl"), "--output_dir", str(lab.path), "--quiet"]
    env = dict(os.environ, LRX_RUNS_DIR=str(tmp_path / "runs"), LRX_LOCK_DIR=str(tmp_path / "locks"))
    proc = subprocess.Popen([sys.executable, "-m", "lrexplorer", *argv], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while "fine-tuning" not in lab.status().get("message", "") and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.2)
    proc.send_signal(sig)
    assert proc.wait(timeout=120) == 3
    status = lab.status()
    assert status["state"] == "stopped" and status["state"] in FINAL_STATES, status
    assert lab.results() is not None and lab.results()["stopped"] is True
