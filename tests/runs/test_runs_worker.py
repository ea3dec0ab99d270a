"""Real runs through the launcher and worker: the run folder, the LR the trainer applied, and every
failure path provoked for real (stop, resume, kill, a busy device, out of memory, a missing model)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from helpers.runs import (
    assert_lr_matches_curve,
    count_lines,
    expected_curve,
    isolate_env,
    save_tiny_hub_model,
    step_logs,
    wait_ended,
    wait_for,
    write_jsonl,
)

from lrexplorer.catalogues.builtin import dataset_files
from lrexplorer.core.fields import FieldError
from lrexplorer.runs import launcher
from lrexplorer.runs.folder import index, lock, store
from lrexplorer.runs.folder.summary import duration_s
from lrexplorer.runs.spec import RunSpec

pytestmark = pytest.mark.slow

# Fractional epochs, a partial last accumulation (15 batches, GA 2), a warmup ratio, evaluation.
MAIN_SPEC = {
    "dataset": "builtin:facts",
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 2,
    "num_train_epochs": 2.5,
    "learning_rate": 2e-3,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0.1,
    "eval_strategy": "steps",
    "eval_steps": 10,
    "save_steps": 10,
    "logging_steps": 1,
}


@pytest.fixture(scope="module")
def main_run(tmp_path_factory):
    """One completed run of the built-in model, shared by the checks below (and the export test).

    Under pytest-xdist the workers share it (the plugin's documented file-lock pattern), so the run
    happens once per session however the tests are distributed.
    """
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # this session's folder, common to all workers
    spec = RunSpec.from_dict(MAIN_SPEC)
    with FileLock(str(shared / "main-run.lock")):
        record = shared / "main-run.json"
        if record.exists():
            run_dir = Path(json.loads(record.read_text())["run_dir"])
            return run_dir, spec, store.read_status(run_dir)
        with pytest.MonkeyPatch.context() as mp:
            runs = isolate_env(mp, shared / "main")
            started = time.monotonic()
            run_dir = launcher.start_run(spec, runs, run_id="main")
            assert time.monotonic() - started < 10, "launching must not block"
            status = wait_ended(run_dir)
        record.write_text(json.dumps({"run_dir": str(run_dir)}))
    return run_dir, spec, status


def test_run_completes_and_records_its_folder(main_run):
    run_dir, spec, status = main_run
    assert status["state"] == "completed", status
    assert status["attn_implementation"] == "sdpa" and status["device"] == "cpu"
    # The kernel that really ran, from the first step's operators: torch's flash kernel for the CPU.
    assert status["attention"]["implementation"] == "sdpa"
    assert status["attention"]["kernel"] == "SDPA flash kernel (CPU)", status["attention"]
    assert status["started_at"] <= status["ended_at"] and isinstance(status["pid"], int)
    plan, _ = expected_curve(spec.values, count_lines(dataset_files("facts")["train"]))
    assert status["max_steps"] == plan.total_steps == status["global_step"] == 20
    again = RunSpec.from_file(run_dir / store.CONFIG)
    assert {k: v for k, v in again.values.items() if k != "output_dir"} == {
        k: v for k, v in spec.values.items() if k != "output_dir"
    }
    assert again["output_dir"] == str(run_dir)
    assert [p.name for p in store.checkpoints(run_dir)][-1] == "checkpoint-20"
    assert (run_dir / "checkpoint-10" / "model.safetensors").is_file()
    assert "[lrexplorer] run completed" in store.log_tail(run_dir)
    assert lock.is_busy("cpu") is None


def test_logged_learning_rate_equals_the_schedules_curve(main_run):
    run_dir, spec, _ = main_run
    logs = assert_lr_matches_curve(run_dir, spec.values, count_lines(dataset_files("facts")["train"]))
    assert [r["step"] for r in logs] == list(range(1, 21))


def test_metrics_records_carry_step_throughput_memory_and_eval(main_run):
    run_dir, _, _ = main_run
    logs = step_logs(run_dir)
    for r in logs:
        for key in (
            "step",
            "epoch",
            "loss",
            "learning_rate",
            "grad_norm",
            "tokens_per_s",
            "samples_per_s",
            "step_time_s",
            "rss_bytes",
        ):
            assert key in r, (key, r)
        assert r["tokens_per_s"] > 0 and r["rss_bytes"] > 50_000_000
        assert r["samples_per_s"] * r["step_time_s"] == pytest.approx(16, rel=1e-6) or r["step"] in (8, 16, 20)
    evals = [r for r in store.read_metrics(run_dir) if "eval_loss" in r]
    assert [r["step"] for r in evals] == [10, 20]
    assert logs[-1]["loss"] < 0.7 * logs[0]["loss"], "the loss must fall clearly"


def test_final_model_and_tokenizer_are_saved_in_safetensors(main_run):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lrexplorer.catalogues.builtin import load_tokenizer, make_model

    run_dir, spec, _ = main_run
    final = run_dir / store.FINAL
    assert (final / "model.safetensors").is_file() and not list(final.glob("pytorch_model*"))  # weights never pickled
    model = AutoModelForCausalLM.from_pretrained(str(final))
    tok = AutoTokenizer.from_pretrained(str(final))
    assert tok.chat_template and len(tok) == len(load_tokenizer())
    initial = make_model("tiny", load_tokenizer(), spec["seed"], "sdpa")
    assert not torch.equal(model.lm_head.weight, initial.lm_head.weight)  # it trained


def test_stop_saves_a_checkpoint_and_resume_finishes_on_the_same_curve(isolated):
    spec = RunSpec.from_dict(
        {
            "max_steps": 40,
            "per_device_train_batch_size": 2,
            "lr_scheduler_type": "OneCycleLR",
            "lr_scheduler_kwargs": {"pct_start": 0.3},
            "warmup_steps": 6,
            "save_steps": 1000,
            "learning_rate": 1e-3,
        }
    )
    run_dir = launcher.start_run(spec, isolated, run_id="stopme")
    wait_for(run_dir, lambda s, m: len(m) >= 3, what="three logged steps")
    asked, logged = time.monotonic(), len(store.read_metrics(run_dir))
    status = launcher.stop_run(run_dir, grace_s=30)
    assert time.monotonic() - asked < 20, "a graceful stop takes one step and a checkpoint"
    assert status["state"] == "stopped" and "stopped on request" in status["message"], status
    step = status["global_step"]
    assert logged <= step <= logged + 2, "stops at the end of the step running when asked"
    assert store.checkpoints(run_dir)[-1].name == f"checkpoint-{step}"
    first_part = status["ended_at"] - status["started_at"]
    launcher.resume_run(run_dir)
    status = wait_ended(run_dir)
    assert status["state"] == "completed" and status["resumed_from"] == f"checkpoint-{step}", status
    # The duration covers both parts, not only the resumed one (the relaunch writes a new started_at).
    assert duration_s(status) == pytest.approx(first_part + status["ended_at"] - status["started_at"])
    logs = assert_lr_matches_curve(run_dir, spec.values, count_lines(dataset_files("arithmetic")["train"]))
    assert [r["step"] for r in logs] == list(range(1, 41)), "each step logged once across the stop"


def test_kill_busy_device_queue_and_restart_recovery(isolated):
    long_run = launcher.start_run(RunSpec.from_dict({"max_steps": 5000, "save_steps": 5}), isolated, run_id="victim")
    wait_for(long_run, lambda s, m: len(m) >= 7, what="a checkpoint and two more steps")

    # A restarted server finds the run by its folder, with the pid checked to be this run's worker.
    listed = {r["run_id"]: r for r in index.list_runs(isolated)}
    assert listed["victim"]["state"] == "running"

    with pytest.raises(lock.DeviceBusy) as busy:
        launcher.start_run(RunSpec.from_dict({"max_steps": 3}), isolated, run_id="refused")
    assert "victim" in str(busy.value) and not (isolated / "refused").exists()
    queued = launcher.start_run(RunSpec.from_dict({"max_steps": 3}), isolated, run_id="queued", queue=True)
    wait_for(queued, lambda s, m: s.get("message") == "waiting for the cpu", what="the worker waiting for the CPU")

    # A worker blocked on the lock never reaches a step end, so the graceful stop cannot work: stop_run
    # escalates to SIGTERM of the group, which the worker turns into a `stopped` status.
    blocked = launcher.start_run(RunSpec.from_dict({"max_steps": 3}), isolated, run_id="blocked", queue=True)
    wait_for(blocked, lambda s, m: s.get("message") == "waiting for the cpu", what="a second waiting worker")
    status = launcher.stop_run(blocked, grace_s=1, term_s=20)
    assert status["state"] == "stopped" and "SIGTERM" in status["message"], status

    os.killpg(store.read_status(long_run)["pid"], signal.SIGKILL)
    status = wait_for(long_run, lambda s, m: s.get("state") == "failed", what="the killed run to be failed")
    assert "killed or crashed" in status["message"] and "Last lines of train.log" in status["message"]
    assert step_logs(long_run), "what was written before the kill is kept"

    assert wait_ended(queued)["state"] == "completed"  # the queued run got the CPU once it was free
    assert lock.is_busy("cpu") is None
    complete = store.checkpoints(long_run)
    assert complete and all((c / "trainer_state.json").is_file() for c in complete)  # what a resume would use


def test_checkpoint_cut_off_by_a_kill_is_not_resumed_from(tmp_path):
    for step, finished in ((5, True), (10, False)):  # the kill came while checkpoint-10 was being written
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"x")
        if finished:
            (folder / "trainer_state.json").write_text('{"global_step": 5}')
    assert [c.name for c in store.checkpoints(tmp_path)] == ["checkpoint-5"]


def test_stale_pid_is_not_mistaken_for_the_run(tmp_path):
    run_dir = tmp_path / "stale"
    run_dir.mkdir()
    (run_dir / store.LOG).write_text("step 1\nboom\n")
    store.write_json_atomic(run_dir / store.STATUS, {"state": "running", "pid": os.getpid()})  # alive, but not a worker
    status = store.reconcile(run_dir)
    assert status["state"] == "failed" and "boom" in status["message"]


def test_out_of_memory_fails_with_message(isolated):
    """The worker, its training step made to raise torch.OutOfMemoryError at step 2 (tests/helpers/oom_worker.py)."""
    import subprocess

    run_dir = launcher.prepare_run(RunSpec.from_dict({"max_steps": 10}), isolated, run_id="oom")
    with open(run_dir / store.LOG, "ab") as log:
        subprocess.run(
            [sys.executable, str(Path(__file__).parents[1] / "helpers" / "oom_worker.py"), "2", str(run_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=300,
            check=False,
        )
    status = store.read_status(run_dir)
    assert status["state"] == "failed" and status["message"].startswith("out of memory"), status
    assert "per_device_train_batch_size" in status["message"] and "memory estimate" in status["message"].lower()
    assert [r["step"] for r in step_logs(run_dir)] == [1, 2]
    assert "OutOfMemoryError" in store.log_tail(run_dir, 80)


def test_missing_model_fails_fast(isolated, tmp_path):
    spec = RunSpec.from_dict({"model": str(tmp_path / "nowhere")})
    with pytest.raises(FieldError, match="no such file or folder"):
        launcher.start_run(spec, isolated)
    # A worker handed such a spec directly (e.g. the folder vanished after launch) fails fast too.
    run_dir = launcher.prepare_run(spec, isolated, run_id="nomodel")
    started = time.monotonic()
    launcher.launch(run_dir)
    status = wait_ended(run_dir, timeout=30)
    assert status["state"] == "failed" and "model: no such file or folder" in status["message"]
    assert time.monotonic() - started < 20


def test_local_hub_format_model_with_lora_and_jsonl(isolated, tmp_path):
    model_dir = save_tiny_hub_model(tmp_path / "tiny-hub")
    rows = [
        {"messages": [{"role": "user", "content": f"Echo {i}"}, {"role": "assistant", "content": f"{i}"}]}
        for i in range(24)
    ]
    data = write_jsonl(tmp_path / "echo.jsonl", rows)
    spec = RunSpec.from_dict(
        {
            "model": str(model_dir),
            "dataset": str(data),
            "use_peft": True,
            "lora_r": 4,
            "lora_target_modules": "q_proj,v_proj",
            "num_train_epochs": 2,
            "attn_implementation": "eager",
            "lr_scheduler_type": "StepLR",
            "lr_scheduler_kwargs": {"step_size": 2, "gamma": 0.5},
        }
    )
    run_dir = launcher.start_run(spec, isolated, run_id="lora")
    status = wait_ended(run_dir)
    assert status["state"] == "completed", status
    assert status["attn_implementation"] == "eager" and status["trainable_parameters"] < status["parameters"] / 5
    assert (run_dir / store.FINAL / "adapter_model.safetensors").is_file()
    assert_lr_matches_curve(run_dir, spec.values, 24)


def test_exported_script_reproduces_the_run_through_accelerate_launch(main_run, tmp_path):
    """The same spec, exported and run by `accelerate launch` with transformers/TRL only, logs the same
    losses and learning rates as the worker did (same seed, data order, initial weights, schedule)."""
    import subprocess

    from lrexplorer.runs.exports.bundle import write_bundle
    from lrexplorer.runs.exports.script import ACCELERATE, SCRIPT, TRL_YAML

    run_dir, _, _ = main_run
    spec = RunSpec.from_file(run_dir / store.CONFIG)  # the run's own record, as `lrexplorer runs export` reads it
    bundle = tmp_path / "bundle"
    written = {p.name for p in write_bundle(spec, bundle)}
    assert {SCRIPT, ACCELERATE, TRL_YAML, "initial_model"} <= written
    # The bundle is standalone: nothing on PYTHONPATH points back at lrexplorer.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # The environment's own `accelerate` command, whether or not its bin folder is on PATH.
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    result = subprocess.run(
        ["sh", str(bundle / ACCELERATE)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads((bundle / "sft-output" / "trainer_state.json").read_text())
    history = [h for h in state["log_history"] if "loss" in h]
    ours = step_logs(run_dir)
    assert [h["step"] for h in history] == [r["step"] for r in ours]
    for theirs, mine in zip(history, ours):
        assert theirs["learning_rate"] == pytest.approx(mine["learning_rate"], rel=1e-9, abs=1e-15)
        assert theirs["loss"] == pytest.approx(mine["loss"], rel=1e-4), theirs["step"]


def test_streamed_dataset_trains_for_max_steps(tmp_path):
    """A stream has no length: the spec rule demands max_steps, and with it TRL trains on the stream."""
    from lrexplorer.core.facts import detect_facts
    from lrexplorer.runs.training.trainer import build_trainer

    rows = [
        {"messages": [{"role": "user", "content": f"Echo {i}"}, {"role": "assistant", "content": f"{i}"}]}
        for i in range(10)
    ]
    data = write_jsonl(tmp_path / "s.jsonl", rows)
    with pytest.raises(FieldError, match="max_steps"):
        RunSpec.from_dict({"dataset": str(data), "dataset_streaming": True})
    spec = RunSpec.from_dict({"dataset": str(data), "dataset_streaming": True, "max_steps": 3, "save_strategy": "no"})
    facts = detect_facts(use_torch=True)
    trainer, info = build_trainer(spec, tmp_path / "run", facts, [])
    assert info["train_examples"] is None  # unsized
    trainer.train()
    assert trainer.state.global_step == 3
