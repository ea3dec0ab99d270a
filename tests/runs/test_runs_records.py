"""Nothing lost: a resume that cannot start touches no file, a completed run is not trained past its end,
a dead worker's status is reconciled whatever the disk allows, and broken run files give one line,
never a traceback. The fast checks use folders written by hand; the slow ones train for real."""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path

import pytest
from helpers.run_folders import append, make_run, record

from lrexplorer.cli import main
from lrexplorer.runs import launcher
from lrexplorer.runs.folder import index, lock, store


@pytest.fixture
def runs(isolated) -> Path:
    isolated.mkdir(parents=True)
    return isolated


def _with_checkpoint(run_dir: Path, step: int) -> Path:
    folder = run_dir / f"checkpoint-{step}"
    folder.mkdir()
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return folder


def _files(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.is_file() and p.name != ".status.lock"}


def test_a_resume_refused_for_a_busy_device_touches_nothing_and_exits_4(runs, capsys):
    run_dir = make_run(runs, "paused", state="stopped", global_step=10, max_steps=20)
    append(run_dir, *(record(s) for s in range(1, 16)))
    _with_checkpoint(run_dir, 10)
    before = _files(run_dir)
    held = lock.acquire("cpu", str(runs / "other"), wait=False)
    try:
        assert main(["runs", "resume", "paused"]) == 4
    finally:
        held.close()
    assert "busy" in capsys.readouterr().err
    assert _files(run_dir) == before


@pytest.mark.parametrize("config", [b"\x00\x9f\xff random bytes", b"learning_rate: [unclosed", b"learning_rate: -5\n"])
def test_a_resume_refused_for_an_invalid_config_touches_nothing_and_exits_2(runs, capsys, config):
    run_dir = make_run(runs, "paused", state="stopped", global_step=10, max_steps=20)
    append(run_dir, *(record(s) for s in range(1, 16)))
    _with_checkpoint(run_dir, 10)
    (run_dir / store.CONFIG).write_bytes(config)
    before = _files(run_dir)
    assert main(["runs", "resume", "paused"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "config.yaml" in err, err
    assert _files(run_dir) == before


def test_a_completed_run_refuses_resume(runs, capsys):
    run_dir = make_run(runs, "done", state="completed", global_step=20, max_steps=20)
    _with_checkpoint(run_dir, 20)
    (run_dir / store.FINAL).mkdir()
    (run_dir / store.FINAL / "config.json").write_text("{}")
    before = _files(run_dir)
    assert main(["runs", "resume", "done"]) == 2
    assert "completed" in capsys.readouterr().err
    assert _files(run_dir) == before and lock.is_busy("cpu") is None


def test_a_dead_workers_status_is_reconciled_even_when_it_cannot_be_written(runs, monkeypatch):
    run_dir = make_run(runs, "gone", state="running", pid=2**22 + 7, pid_create_time=1.0)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "write_text_atomic", full)
    status = store.reconcile(run_dir)
    assert status["state"] == "failed" and "killed or crashed" in status["message"]
    assert [r["state"] for r in index.list_runs(runs)] == ["failed"]


BROKEN = {
    "status-list": (store.STATUS, b"[1, 2, 3]"),
    "status-created": (store.STATUS, b'{"state": "completed", "created_at": "yesterday"}'),
    "status-bytes": (store.STATUS, b"\x89PNG\x00\xff"),
    "config-bytes": (store.CONFIG, b"\x00\x9f\xff\xfe random"),
    "config-yaml": (store.CONFIG, b"a: [b\n  - c: {"),
    "metrics-binary": (store.METRICS, b'{"step": 1, "loss": 2.0}\n\x00\xff\xfe\n[1, 2]\n"text"\n{"step": "x"}\n'),
}


@pytest.fixture
def broken(runs) -> Path:
    make_run(runs, "healthy", state="completed", global_step=5, max_steps=5)
    for run_id, (name, content) in BROKEN.items():
        run_dir = make_run(runs, run_id, state="stopped", global_step=1, max_steps=5)
        _with_checkpoint(run_dir, 1)
        (run_dir / name).write_bytes(content)
    return runs


def test_broken_runs_are_listed_with_their_reason(broken, capsys):
    rows = {r["run_id"]: r for r in index.list_runs(broken)}
    assert set(rows) == {"healthy", *BROKEN}
    assert rows["healthy"]["problem"] is None
    for run_id, (name, _content) in BROKEN.items():
        if name != store.METRICS:
            assert name in rows[run_id]["problem"], run_id
    assert rows["status-list"]["state"] == "broken"
    assert main(["runs", "list"]) == 0
    out = capsys.readouterr().out
    assert all(run_id in out for run_id in rows) and "broken" in out
    assert main(["runs", "list", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == len(rows)


@pytest.mark.parametrize("run_id", sorted(BROKEN))
def test_runs_commands_give_one_line_for_a_broken_run(broken, run_id, capsys, tmp_path):
    name = BROKEN[run_id][0]
    for argv in (["show", run_id], ["show", run_id, "--format", "json"], ["export", run_id, str(tmp_path / "x")]):
        code = main(["runs", *argv])
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        if name == store.METRICS:
            assert code == 0, captured.err  # unreadable lines are skipped: the run is still usable
        elif argv[0] == "export":
            # A broken status does not stop an export of a good config; a broken config does, in one line.
            assert code == (2 if name == store.CONFIG else 0), captured.err
            assert name == store.STATUS or len(captured.err.strip().splitlines()) == 1, captured.err
        else:
            assert code == 0 and name in captured.out, captured.out
    held = lock.acquire("cpu", "another run", wait=False)  # a resume that passes its checks must not train here
    try:
        assert main(["runs", "resume", run_id]) == (4 if name == store.METRICS else 2)
    finally:
        held.close()
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_the_runs_page_lists_a_broken_run_and_the_train_page_shows_why(broken):
    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parents[2]
    at = AppTest.from_file(str(root / "lrexplorer" / "app" / "main.py"), default_timeout=60)
    at.switch_page("page_scripts/runs.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    rows = {r["run"]: r for r in at.dataframe[0].value.to_dict("records")}
    assert set(rows) == {"healthy", *BROKEN}
    assert rows["status-list"]["status"] == "broken"
    for run_id in ("status-list", "config-bytes"):
        at = AppTest.from_file(str(root / "lrexplorer" / "app" / "main.py"), default_timeout=60)
        at.switch_page("page_scripts/train.py")
        at.query_params["run"] = run_id
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        shown = " ".join(e.value for e in at.error)
        assert BROKEN[run_id][0] in shown, shown


def test_a_full_disk_before_start_is_one_line_and_leaves_no_run(runs, monkeypatch, capsys):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "write_text_atomic", full)
    code = main(["train", "--max_steps", "1", "--run_id", "nospace", "--detach"])
    err = capsys.readouterr().err
    assert code == 1 and "disk full" in err and "Traceback" not in err, err
    assert not (runs / "nospace").exists()


def _wait(predicate, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.1)
    assert predicate()


def test_reconcile_says_disk_full_when_the_run_folders_disk_is(runs, monkeypatch):
    run_dir = make_run(runs, "gone", state="running", pid=2**22 + 7, pid_create_time=1.0)
    monkeypatch.setattr(os, "statvfs", lambda path: os.statvfs_result((4096, 4096, 1000, 0, 0, 100, 0, 0, 0, 255)))
    status = store.reconcile(run_dir)
    assert status["state"] == "failed" and "disk full" in status["message"]


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_at_the_step_it_stops(runs):
    import signal

    from lrexplorer.runs.spec import RunSpec

    run_dir = launcher.start_run(RunSpec.from_dict({"max_steps": 500, "save_steps": 1000}), runs, run_id="term")
    _wait(lambda: len(store.read_metrics(run_dir)) >= 3)
    os.killpg(store.read_status(run_dir)["pid"], signal.SIGTERM)
    _wait(lambda: store.reconcile(run_dir).get("state") in store.FINAL_STATES)
    status = store.read_status(run_dir)
    step = status["global_step"]
    assert status["state"] == "stopped" and "SIGTERM" in status["message"], status
    assert store.checkpoints(run_dir)[-1].name == f"checkpoint-{step}"
    assert max(r["step"] for r in store.read_metrics(run_dir)) == step


@pytest.mark.slow
def test_five_starts_at_once_one_runs_the_others_are_refused_or_queue(runs):
    import subprocess
    import sys

    def start(run_id: str, queue: bool) -> subprocess.Popen:
        argv = ["train", "--max_steps", "3", "--run_id", run_id, "--detach"] + (["--queue"] if queue else [])
        return subprocess.Popen([sys.executable, "-m", "lrexplorer", *argv], stderr=subprocess.PIPE, text=True)

    plain = {f"plain{i}": start(f"plain{i}", False) for i in range(3)}
    queued = {f"queued{i}": start(f"queued{i}", True) for i in range(2)}
    codes = {run_id: p.wait(timeout=300) for run_id, p in {**plain, **queued}.items()}
    assert sorted(codes[r] for r in plain) == [0, 4, 4], {r: plain[r].stderr.read() for r in plain}
    assert all(codes[r] == 0 for r in queued)
    started = [r for r in plain if codes[r] == 0]
    assert sorted(p.name for p in runs.iterdir() if store.is_run(p)) == sorted([*started, *queued])
    ended = {}
    for run_id in (*started, *queued):
        _wait(lambda run_id=run_id: store.reconcile(runs / run_id).get("state") in store.FINAL_STATES)
        ended[run_id] = store.read_status(runs / run_id)
    assert all(s["state"] == "completed" for s in ended.values()), ended
    spans = sorted((s["started_at"], s["ended_at"]) for s in ended.values())
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), "two runs held the CPU at once"


@pytest.mark.slow
def test_a_disk_that_fills_while_training_ends_failed_disk_full(runs, tmp_path):
    import subprocess

    from lrexplorer.runs.spec import RunSpec

    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], check=False).returncode:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        spec = RunSpec.from_dict({"max_steps": 5000, "save_strategy": "no", "output_dir": str(disk / "run")})
        run_dir = launcher.prepare_run(spec, runs)
        config = (run_dir / store.CONFIG).read_bytes()
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        # Room for the status, the memory record and the first metrics lines, not for 5,000 steps of them.
        (disk / "filler").write_bytes(b"\0" * (free - 64 * 1024))
        launcher.launch(run_dir)
        _wait(lambda: store.reconcile(run_dir).get("state") in store.FINAL_STATES, timeout=400)
        status = store.reconcile(run_dir)
        assert status["state"] == "failed" and "disk full" in status["message"], status
        assert not [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")]
        assert (run_dir / store.CONFIG).read_bytes() == config
        assert store.read_metrics(run_dir), "what fitted is kept"
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
