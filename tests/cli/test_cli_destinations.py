"""One rule for every command that writes a folder (runs export, train --export, runs merge, knowledge, sweep,
lr-find, train): a new or empty folder, never the runs directory, a run's folder or a folder inside one,
checked before anything is written, symbolic links resolved (dangling ones too), with the same message
everywhere. A refused command changes no file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers.hostile import snapshot
from helpers.run_folders import make_lora_run, make_run

from lrexplorer.cli import main
from lrexplorer.knowledge.assets import FACTS_FILE

ASK = "give a new or empty folder (a command writes only into a folder of its own)"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A runs directory with an ended run `r1` and an ended LoRA run `lora`, a small fact file and a space."""
    root = tmp_path_factory.mktemp("world")
    make_run(root / "runs")
    make_lora_run(root / "runs", "lora")
    facts = FACTS_FILE.read_text(encoding="utf-8").splitlines()[:3]
    (root / "facts.jsonl").write_text("\n".join(facts) + "\n", encoding="utf-8")
    (root / "space.yaml").write_text("learning_rate: {values: [1.0e-3]}\n", encoding="utf-8")
    return root


@pytest.fixture
def here(world, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LRX_RUNS_DIR", str(world / "runs"))
    monkeypatch.setenv("LRX_LOCK_DIR", str(tmp_path.parent / f"{tmp_path.name}-locks"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


# command -> (argv for a destination, the field its refusal names)
COMMANDS = {
    "runs export": (lambda w, d: ["runs", "export", "r1", d], "dest"),
    "runs merge": (lambda w, d: ["runs", "merge", "lora", d], "dest"),
    "train --export": (
        lambda w, d: ["train", "--export", d, "--num_machines", "2", "--main_process_ip", "n1"],
        "--export",
    ),
    "train": (lambda w, d: ["train", "--output_dir", d, "--max_steps", "1", "--detach"], "--output_dir"),
    "lr-find": (lambda w, d: ["lr-find", "--output_dir", d, "--num_steps", "6"], "--output_dir"),
    "knowledge": (
        lambda w, d: ["knowledge", "--output_dir", d, "--methods", "base", "--facts", str(w / "facts.jsonl")],
        "--output_dir",
    ),
    "sweep": (
        lambda w, d: ["sweep", "--output_dir", d, "--space", str(w / "space.yaml"), "--max_steps", "1"],
        "--output_dir",
    ),
}


def _used_folder(w: Path, here: Path) -> str:
    folder = here / "mine"
    folder.mkdir()
    (folder / "README.md").write_text("my notes\n")
    (folder / "study.db").write_text("not a database\n")
    return str(folder)


def _file(w: Path, here: Path) -> str:
    (here / "notes.txt").write_text("keep\n")
    return str(here / "notes.txt")


def _link(target: Path, here: Path) -> str:
    os.symlink(target, here / "link")
    return str(here / "link")


DESTINATIONS = {
    "a folder with files": (_used_folder, "is a folder that is not empty"),
    "a file": (_file, "exists and is not a folder"),
    "the runs directory": (lambda w, here: str(w / "runs"), "is the runs directory"),
    "a run's folder": (lambda w, here: str(w / "runs" / "r1"), "is a run's folder"),
    "a folder inside a run": (lambda w, here: str(w / "runs" / "r1" / "export"), "is inside the run folder"),
    "a dangling link into a run": (
        lambda w, here: _link(w / "runs" / "lora" / "merged", here),
        "is inside the run folder",
    ),
    "a link to a folder with files": (lambda w, here: _link(Path(_used_folder(w, here)), here), "not empty"),
}


@pytest.mark.parametrize("where", list(DESTINATIONS))
def test_every_command_refuses_the_same_destinations_with_the_same_words_and_writes_nothing(world, here, capsys, where):
    make, why = DESTINATIONS[where]
    dest = make(world, here)
    tails = {}
    for name, (argv, field) in COMMANDS.items():
        before = {**snapshot(world), **{f"here/{k}": v for k, v in snapshot(here).items()}}
        code = main(argv(world, dest))
        err = capsys.readouterr().err.strip()
        after = {**snapshot(world), **{f"here/{k}": v for k, v in snapshot(here).items()}}
        assert code == 2, (name, err)
        assert after == before, (name, sorted(set(after.items()) ^ set(before.items()))[:5])
        last = err.splitlines()[-1]
        assert f"error: {field}: {dest!r} " in last and why in last and last.endswith(ASK + "."), (name, err)
        tails[name] = last.split(f"{field}: ", 1)[1]
    assert len(set(tails.values())) == 1, tails  # one message, whatever the command


def test_an_empty_runs_directory_is_not_a_run_folder(tmp_path, monkeypatch, capsys):
    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setenv("LRX_RUNS_DIR", str(runs))
    monkeypatch.setenv("LRX_LOCK_DIR", str(tmp_path / "locks"))
    assert main(["train", "--output_dir", str(runs), "--max_steps", "1", "--detach"]) == 2
    assert "--output_dir:" in capsys.readouterr().err and list(runs.iterdir()) == []
    assert main(["train", "--check", "--output_dir", str(runs)]) == 2
    assert "is the runs directory" in capsys.readouterr().err and list(runs.iterdir()) == []


@pytest.mark.parametrize("action", [["export", "nosuch", "out"], ["resume", "nosuch"], ["merge", "nosuch", "out"]])
def test_a_run_that_does_not_exist_is_said_so(world, here, capsys, action):
    assert main(["runs", *action]) == 2
    err = capsys.readouterr().err
    assert "no run 'nosuch'" in err and "config.yaml" not in err and not (here / "out").exists()


def test_an_export_into_a_dangling_link_writes_where_the_link_points(world, here, capsys):
    os.symlink(here / "elsewhere" / "bundle", here / "link")
    assert main(["runs", "export", "r1", "link"]) == 0, capsys.readouterr().err
    assert (here / "elsewhere" / "bundle" / "train.py").is_file() and (here / "link").is_symlink()


def test_merge_into_a_dangling_link_writes_the_merged_model_where_it_points(world, here, capsys):
    os.symlink(here / "models" / "merged", here / "merged")
    assert main(["runs", "merge", "lora", "merged"]) == 0, capsys.readouterr().err
    config = json.loads((here / "models" / "merged" / "config.json").read_text())
    assert config["model_type"] == "llama" and (here / "merged").is_symlink()


def test_an_export_that_fails_half_way_leaves_nothing(world, here, capsys, monkeypatch):
    from lrexplorer.runs.exports import bundle

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bundle, "_save_initial_model", fail)
    with pytest.raises(OSError):
        bundle.write_bundle(bundle_spec(world), here / "new" / "bundle")
    assert not (here / "new").exists()
    (here / "empty").mkdir()
    with pytest.raises(OSError):
        bundle.write_bundle(bundle_spec(world), here / "empty")
    assert (here / "empty").is_dir() and list((here / "empty").iterdir()) == []


def bundle_spec(world: Path):
    from lrexplorer.runs.folder import store

    return store.read_spec(world / "runs" / "r1")


def test_the_knowledge_page_lab_folder_is_taken_once(world, here, capsys):
    """A folder start_lab prepared (its marker, still queued) is the lab command's own; once a lab began in it,
    or for a folder merely named like one, the rule holds."""
    from lrexplorer.knowledge.lab_folder import MARKER, LabFolder, claim

    prepared = here / "lab"
    prepared.mkdir()
    (prepared / MARKER).touch()
    LabFolder(prepared).update(state="queued", message="starting")
    assert claim(prepared) == prepared.resolve()
    LabFolder(prepared).begin({"methods": ["base"]})
    assert main(["knowledge", "--check", "--output_dir", str(prepared)]) == 2
    assert "is a run's folder" in capsys.readouterr().err
