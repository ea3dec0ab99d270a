"""Confinement: runs are found by id only and stay inside the runs directory (or the registry of runs
started elsewhere); a user-chosen output_dir never holds anything lrexplorer did not write; Stop signals
only the run's own worker. No training here: the folders are written by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from helpers.run_folders import make_run

from lrexplorer.cli import main
from lrexplorer.core.fields import FieldError
from lrexplorer.runs import launcher
from lrexplorer.runs.folder import index, registry, store
from lrexplorer.runs.spec import RunSpec


@pytest.fixture
def runs(isolated) -> Path:
    isolated.mkdir(parents=True)
    return isolated


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)


@pytest.mark.parametrize("ref", ["../x", "/tmp", "a/b", "." * 3, "x" * 300, "a b", "a\nb"])
def test_a_run_is_found_by_id_only(runs, ref, capsys):
    outside = runs.parent / "x"
    make_run(runs.parent, "x")  # a real run folder, next to the runs directory: still not reachable
    with pytest.raises(store.RunNotFound):
        index.find_run(ref, runs)
    with pytest.raises(store.RunNotFound):
        index.find_run(str(outside), runs)
    for action in (["show"], ["stop"], ["resume"], ["export"]):
        argv = ["runs", *action, ref] + (["dest"] if action == ["export"] else [])
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_a_symlink_in_the_runs_directory_does_not_lead_out(runs):
    target = make_run(runs.parent, "elsewhere")
    (runs / "link").symlink_to(target, target_is_directory=True)
    with pytest.raises(store.RunNotFound):
        index.find_run("link", runs)
    assert "link" not in {r["run_id"] for r in index.list_runs(runs)}


def test_stop_never_signals_a_process_that_is_not_the_runs_worker(runs):
    victim = _sleeper()
    try:
        run_dir = make_run(runs, "crafted", state="running")
        created = psutil.Process(victim.pid).create_time()
        store.update_status(run_dir, pid=victim.pid, pid_create_time=created)
        (run_dir / store.MARKER).write_text(json.dumps({"run_id": "crafted"}))
        launcher.stop_run(run_dir, grace_s=0.2, term_s=0.2)
        assert main(["runs", "stop", "crafted", "--timeout", "0.2"]) in (0, 1)
        time.sleep(0.3)
        assert victim.poll() is None, "an unrelated process was signalled"
    finally:
        victim.kill()
        victim.wait()


@pytest.mark.parametrize("content", ["checkpoints", "files"])
def test_an_existing_folder_with_content_is_refused_as_output_dir(runs, tmp_path, content):
    folder = tmp_path / "mine"
    folder.mkdir()
    if content == "checkpoints":
        for n in range(1, 6):
            (folder / f"checkpoint-{n}").mkdir()
    else:
        (folder / "notes.txt").write_text("keep me")
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(FieldError) as err:
        launcher.prepare_run(RunSpec.from_dict({"output_dir": str(folder)}), runs)
    assert err.value.field == "output_dir" and "not empty" in str(err.value)
    assert sorted(p.name for p in folder.iterdir()) == before
    # Inside the runs directory, an existing folder that is not a run is refused the same way.
    (runs / "taken").mkdir()
    (runs / "taken" / "data.bin").write_bytes(b"1")
    with pytest.raises(FieldError):
        launcher.prepare_run(RunSpec.from_dict({}), runs, run_id="taken")
    assert [p.name for p in (runs / "taken").iterdir()] == ["data.bin"]


def test_a_run_outside_the_runs_directory_is_registered_and_reachable_by_id(runs, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    run_dir = launcher.prepare_run(RunSpec.from_dict({"output_dir": str(empty)}), runs)
    fresh = launcher.prepare_run(RunSpec.from_dict({"output_dir": str(tmp_path / "new folder" / "a b")}), runs)
    for folder in (run_dir, fresh):
        run_id = store.run_id_of(folder)
        store.check_run_id(run_id)
        assert index.find_run(run_id, runs) == folder.resolve()
        assert run_id in {r["run_id"] for r in index.list_runs(runs)}
    assert store.run_id_of(run_dir) != store.run_id_of(fresh)


def test_registry_entries_are_checked_on_read(runs, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / store.STATUS).write_text("{}")  # a run-looking folder lrexplorer did not create (no marker)
    other = launcher.prepare_run(RunSpec.from_dict({"output_dir": str(tmp_path / "other")}), runs)
    entries = {"plain": str(plain), "../up": str(other), "lie": str(other), "rel": "relative/path", "n": 5}
    (runs / registry.REGISTRY).write_text(json.dumps(entries))
    for bad in entries:
        with pytest.raises(store.RunNotFound):
            index.find_run(bad, runs)
    (runs / registry.REGISTRY).write_bytes(b"\x00\xff not json")
    assert index.list_runs(runs) == []
    launcher.prepare_run(RunSpec.from_dict({"output_dir": str(tmp_path / "third")}), runs)  # repairs the file
    assert len(index.list_runs(runs)) == 1


def test_a_long_run_id_is_one_line_from_the_train_cli(runs, capsys):
    assert main(["train", "--run_id", "r" * 300, "--max_steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "run_id" in err and len(err.strip().splitlines()) == 1


def test_atomic_writes_leave_no_temporary_when_they_fail(runs, monkeypatch):
    run_dir = make_run(runs, "r")

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError):
        store.write_json_atomic(run_dir / store.STATUS, {"state": "x"})
    with pytest.raises(OSError):
        store.write_metrics(run_dir, [{"step": 1}])
    with pytest.raises(OSError):
        store.write_config(run_dir, RunSpec.from_dict({}))
    assert not [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")]
    assert store.read_config(run_dir)["model"] == "builtin:tiny"
    assert os.path.getsize(run_dir / store.CONFIG) > 0
