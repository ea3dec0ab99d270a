"""`lrexplorer runs import`: a real Trainer run made outside lrexplorer becomes a read-only run of kind imported
that is listed, read back metric by metric and has its schedule recognised; damaged and hostile files are
refused with exit 2 naming the file and the problem, and nothing is written."""

from __future__ import annotations

import json
import os
import pickle
import shutil

import pytest
from helpers.trainer_runs import trainer_run

from lrexplorer.cli import main
from lrexplorer.runs.folder import index, store
from lrexplorer.runs.imported import is_imported
from lrexplorer.runs.kinds.registry import read_kind


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A plain Trainer run: cosine, 10% warmup, logged every 2 steps, checkpoints at 20 and 40."""
    folder = tmp_path_factory.mktemp("elsewhere") / "cosine-run"
    trainer = trainer_run(
        folder, "cosine", learning_rate=5e-4, warmup_steps=0.1, max_steps=40, logging_steps=2, save_steps=20
    )
    return folder, trainer


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_an_imported_trainer_run_is_listed_charted_and_its_schedule_recognised(made, tmp_path, capsys):
    folder, trainer = made
    root = tmp_path / "runs"
    assert main(["runs", "import", str(folder), "--runs_dir", str(root), "--format", "json"]) == 0
    out = _json(capsys)
    run_dir = root / out["run_id"]
    assert out["run_id"] == "imported-cosine-run" and is_imported(run_dir)
    assert read_kind(run_dir) == ("imported", read_kind(run_dir)[1]) and out["args_file"].endswith(".json")
    (row,) = index.list_runs(root)
    assert (row["state"], row["global_step"], row["max_steps"], row["problem"]) == ("completed", 40, 40, None)
    logged = [e for e in trainer.state.log_history if "step" in e]
    records = store.read_metrics(run_dir)
    assert [r["step"] for r in records] == [e["step"] for e in logged]
    for record, entry in zip(records, logged):
        for key in ("loss", "learning_rate", "grad_norm", "epoch", "train_runtime"):
            assert record.get(key) == entry.get(key)
    config = store.read_config(run_dir)
    assert (config["learning_rate"], config["lr_scheduler_type"], config["max_steps"]) == (5e-4, "cosine", 40)
    warmup = trainer.args.get_warmup_steps(40)
    expected = {"lr_scheduler_type": "cosine", "learning_rate": 5e-4, "warmup_steps": warmup}
    assert {k: out["schedule_match"][k] for k in expected} == expected and out["schedule_departure"] is None
    assert main(["runs", "show", out["run_id"], "--runs_dir", str(root), "--json"]) == 0
    assert _json(capsys)["schedule_match"] == out["schedule_match"]


@pytest.mark.slow
@pytest.mark.parametrize(("action", "extra"), [("resume", []), ("stop", []), ("export", ["dest"]), ("merge", ["dest"])])
def test_an_imported_run_cannot_be_controlled(made, tmp_path, capsys, action, extra):
    folder, _ = made
    root = tmp_path / "runs"
    assert main(["runs", "import", str(folder), "--runs_dir", str(root), "--run_id", "cos"]) == 0
    capsys.readouterr()
    before = sorted(os.listdir(root / "cos"))
    assert main(["runs", action, "cos", *[str(tmp_path / e) for e in extra], "--runs_dir", str(root)]) == 2
    err = capsys.readouterr().err
    assert "run: run cos was imported from" in err and "cannot be" in err and "Traceback" not in err
    assert sorted(os.listdir(root / "cos")) == before and not (tmp_path / "dest").exists()


@pytest.mark.slow
def test_the_newest_checkpoint_is_read_when_the_folder_has_no_final_state(made, tmp_path, capsys):
    folder, _ = made
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "trainer_state.json").unlink()
    assert main(["runs", "import", str(copy), "--runs_dir", str(tmp_path / "runs"), "--format", "json"]) == 0
    out = _json(capsys)
    assert out["state_file"] == str(copy / "checkpoint-40" / "trainer_state.json")


@pytest.mark.slow
def test_a_run_resumed_with_another_schedule_has_no_match_and_says_where_it_departs(tmp_path, capsys):
    folder = tmp_path / "changed"
    trainer_run(folder, "linear", learning_rate=3e-4, warmup_steps=5, max_steps=30, save_steps=15)
    trainer_run(folder, "constant", learning_rate=3e-4, max_steps=30, save_steps=30, resume=folder / "checkpoint-15")
    assert main(["runs", "import", str(folder), "--runs_dir", str(tmp_path / "runs"), "--format", "json"]) == 0
    out = _json(capsys)
    assert out["schedule_match"] is None
    departure = out["schedule_departure"]
    assert departure["departs_at_step"] == 17 and departure["followed"]["lr_scheduler_type"] == "linear"


class Boom:
    """A pickle that would leave a file behind if anything loaded it."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def _state(**over) -> dict:
    base = {
        "max_steps": 4,
        "global_step": 4,
        "log_history": [{"step": s, "loss": 1.0, "learning_rate": 1e-3} for s in (1, 2, 3, 4)],
    }
    return {**base, **over}


HOSTILE = [
    ("not json", b"{max_steps: 4", "not valid JSON"),
    ("a list", b"[1, 2]", "holds a list"),
    ("no max_steps", json.dumps({"log_history": []}).encode(), "max_steps is None"),
    ("max_steps text", json.dumps(_state(max_steps="4")).encode(), "max_steps is '4'"),
    ("max_steps huge", json.dumps(_state(max_steps=10**15)).encode(), "not a whole number from 1"),
    ("history a dict", json.dumps(_state(log_history={"a": 1})).encode(), "log_history is dict"),
    ("entry a string", json.dumps(_state(log_history=["x"])).encode(), "log_history[0] is a str"),
    ("step negative", json.dumps(_state(log_history=[{"step": -1}])).encode(), "log_history[0].step is -1"),
    ("step float", json.dumps(_state(log_history=[{"step": 1.5}])).encode(), "log_history[0].step is 1.5"),
    (
        "too many fields",
        json.dumps(_state(log_history=[{f"k{i}": i for i in range(300)} | {"step": 1}])).encode(),
        "fields; at most",
    ),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, "nested more than"),
    ("not utf-8", b"\xff\xfe{}", "not UTF-8"),
]


@pytest.mark.parametrize(("name", "content", "words"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_damaged_or_hostile_state_is_refused_naming_the_file(tmp_path, capsys, name, content, words):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "trainer_state.json").write_bytes(content)
    root = tmp_path / "runs"
    assert main(["runs", "import", str(folder), "--runs_dir", str(root)]) == 2
    err = capsys.readouterr().err
    assert f"folder: {folder / 'trainer_state.json'}: " in err and words in err, err
    assert "Traceback" not in err and not (root.exists() and os.listdir(root))


def test_oversized_files_special_files_and_bad_arguments_files_are_refused(tmp_path, capsys, monkeypatch):
    from lrexplorer.runs import imported

    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "trainer_state.json").write_text(json.dumps(_state()))
    root = tmp_path / "runs"
    monkeypatch.setattr(imported, "MAX_STATE_BYTES", 100)
    assert main(["runs", "import", str(folder), "--runs_dir", str(root)]) == 2
    assert "bytes; at most 100 bytes is read" in capsys.readouterr().err
    monkeypatch.undo()
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / "trainer_state.json")  # opening it would wait for a writer forever
    assert main(["runs", "import", str(fifo / "trainer_state.json"), "--runs_dir", str(root)]) == 2
    assert "not a regular file" in capsys.readouterr().err
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi")
    )
    (folder / "training_args.yaml").write_text(bomb)
    assert main(["runs", "import", str(folder), "--runs_dir", str(root)]) == 2
    assert f"folder: {folder / 'training_args.yaml'}: line 2: uses the alias *a" in capsys.readouterr().err
    flat = "report_to: none\nmany: [" + ", ".join(["0"] * 120_000) + "]\n"  # no alias, but 120,000 values
    (folder / "training_args.yaml").write_text(flat)
    assert main(["runs", "import", str(folder), "--runs_dir", str(root)]) == 2
    assert f"folder: {folder / 'training_args.yaml'}: more than 100,000 values" in capsys.readouterr().err
    (folder / "training_args.yaml").write_text("- just\n- a list\n")
    assert main(["runs", "import", str(folder), "--runs_dir", str(root)]) == 2
    assert "must be a mapping of argument: value, not a list" in capsys.readouterr().err
    assert not (root.exists() and os.listdir(root))


def test_the_pickled_arguments_are_never_loaded_and_run_ids_are_checked(tmp_path, capsys):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "trainer_state.json").write_text(json.dumps(_state()))
    target = tmp_path / "pwned"
    (folder / "training_args.bin").write_bytes(pickle.dumps(Boom(str(target))))
    root = tmp_path / "runs"
    for bad in ("../escape", ".hidden", "a" * 100):
        assert main(["runs", "import", str(folder), "--runs_dir", str(root), "--run_id", bad]) == 2
        assert "run_id" in capsys.readouterr().err
    assert main(["runs", "import", str(folder), "--runs_dir", str(root), "--run_id", "mine"]) == 0
    assert "training_args.bin is a pickle and is never loaded" in capsys.readouterr().err
    assert not target.exists()
    assert main(["runs", "import", str(folder), "--runs_dir", str(root), "--run_id", "mine"]) == 2
    assert "a run 'mine' already exists" in capsys.readouterr().err
    assert main(["runs", "import", str(tmp_path / "nowhere"), "--runs_dir", str(root)]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert sorted(os.listdir(root)) == ["mine"]


@pytest.mark.parametrize("report_to", ["none", "tensorboard"])
def test_report_to_as_trainingarguments_saves_it_is_read_back(tmp_path, report_to):
    from transformers import TrainingArguments

    from lrexplorer.runs.imported_args import catalogue_values

    saved = json.loads(TrainingArguments(output_dir=str(tmp_path), report_to=report_to).to_json_string())
    values, notes = catalogue_values(saved)
    assert values["report_to"] == report_to
    assert not any("report_to" in note for note in notes), notes
