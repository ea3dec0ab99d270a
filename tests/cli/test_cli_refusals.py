"""What used to end in a traceback, or be accepted and fail later, is one line naming the field or file, exit
2, and no file changed: documents nested thousands deep or full of aliases (configs, sweep spaces, JSON flags,
a run's config.yaml), binary and oversized fact files, a sweep's seed past numpy's range, a sweep folder that
is not a sweep's, checkpointing arguments torch would refuse; a sweep whose every trial fails exits 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.run_folders import make_run

from lrexplorer.cli import main
from lrexplorer.knowledge.assets import FACTS_FILE


def alias_bomb(levels: int = 9) -> str:
    """A few hundred bytes that expand to 10**levels strings: refused before anything walks them."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join(f"*a{i - 1}" for _ in range(10)) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


DEEP_YAML = "learning_rate: " + "[" * 20_000 + "]" * 20_000 + "\n"
DEEP_JSON = '{"a": ' * 20_000 + "1" + "}" * 20_000


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LRX_LOCK_DIR", str(tmp_path / "locks"))
    return tmp_path


def refused(capsys, argv: list[str], *words: str) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    for word in words:
        assert word in err, err
    return err


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize(
    ("text", "words"), [(alias_bomb(), ("alias *a0",)), (DEEP_YAML, ("nested more than 32 levels",))]
)
def test_a_config_or_a_space_that_would_explode_is_one_line(here, capsys, text, words):
    (here / "bad.yaml").write_text(text)
    (here / "space.yaml").write_text("learning_rate: {values: [1.0e-3]}\n")
    before = files(here)
    refused(capsys, ["train", "--check", "--config", "bad.yaml"], "--config:", *words)
    refused(capsys, ["sweep", "--space", "bad.yaml", "--max_steps", "2"], "--space:", *words)
    refused(capsys, ["sweep", "--space", "space.yaml", "--config", "bad.yaml"], "--config:", *words)
    refused(capsys, ["lr-find", "--config", "bad.yaml"], "--config:", *words)
    assert files(here) == before


def test_a_json_flag_nested_thousands_deep_is_one_line(here, capsys):
    for flag in ("--lr_scheduler_kwargs", "--fsdp_config", "--activation_checkpointing_kwargs"):
        refused(capsys, ["train", "--check", flag, DEEP_JSON], f"{flag}:", "nested more than 32 levels")
    refused(capsys, ["schedule", "--max_steps", "9", "--lr_scheduler_kwargs", DEEP_JSON], "--lr_scheduler_kwargs:")


def test_a_run_whose_config_holds_an_alias_bomb_is_refused_and_nothing_is_exported(here, capsys):
    run = make_run(here / "runs", state="stopped")
    (run / "config.yaml").write_text(alias_bomb())
    refused(capsys, ["runs", "export", "r1", "out"], "run:", "alias")
    refused(capsys, ["runs", "resume", "r1"], "run:", "alias")
    assert not (here / "out").exists()


def test_a_binary_or_oversized_fact_file_is_one_line(here, capsys):
    (here / "facts.bin").write_bytes(bytes(range(256)) * 4)
    refused(capsys, ["knowledge", "--facts", "facts.bin"], "--facts:", "not UTF-8")
    with open(here / "huge.jsonl", "wb") as fh:
        fh.truncate(100 * 2**20)
    refused(capsys, ["knowledge", "--facts", "huge.jsonl"], "--facts:", "too large")
    row = json.loads(FACTS_FILE.read_text(encoding="utf-8").splitlines()[0])
    row["questions"] = ["Where was " + "x" * 420_000 + " born?"]
    (here / "long.jsonl").write_text(json.dumps(row) + "\n")
    refused(capsys, ["knowledge", "--facts", "long.jsonl"], "--facts:", "line 1", "'questions'", "at most 2,000")
    deep = '{"fact": ' + "[" * 10_000 + "]" * 10_000 + "}"
    (here / "deep.jsonl").write_text(deep + "\n")
    refused(capsys, ["knowledge", "--facts", "deep.jsonl"], "--facts:", "line 1", "nested")


def test_a_sweep_seed_past_numpy_s_range_is_refused_before_the_study_exists(here, capsys):
    (here / "space.yaml").write_text("learning_rate: {values: [1.0e-3]}\n")
    refused(
        capsys, ["sweep", "--space", "space.yaml", "--sweep_seed", "4294967296", "--output_dir", "sw"], "--sweep_seed:"
    )
    assert not (here / "sw").exists() and not (here / "runs").exists()


def test_a_sweep_folder_whose_name_makes_no_run_id_is_refused_up_front(here, capsys):
    (here / "space.yaml").write_text("learning_rate: {values: [1.0e-3]}\n")
    for name in ("my sweep", "x" * 80, "_hidden"):
        refused(capsys, ["sweep", "--space", "space.yaml", "--output_dir", name], "--output_dir:", "trial run ids")
        assert not (here / name).exists()


def test_a_sweep_folder_with_a_damaged_database_is_one_line_and_left_as_it_was(here, capsys):
    (here / "space.yaml").write_text("learning_rate: {values: [1.0e-3]}\n")
    damaged = b"SQLite format 3\x00" + b"\xff" * 200
    folder = here / "sw"
    folder.mkdir()
    (folder / "study.db").write_bytes(damaged)  # not a sweep's folder: any other folder with a file in it
    refused(capsys, ["sweep", "--output_dir", "sw", "--space", "space.yaml"], "--output_dir:", "not empty")
    (folder / ".lrexplorer-sweep").touch()  # a sweep's folder (README: the marker), its database damaged
    refused(capsys, ["sweep", "--output_dir", "sw"], "--output_dir:", "study.db", "not a sweep's database")
    refused(capsys, ["sweep", "--output_dir", "sw", "--space", "space.yaml"], "--output_dir:", "study.db")
    assert (folder / "study.db").read_bytes() == damaged and sorted(p.name for p in folder.iterdir()) == [
        ".lrexplorer-sweep",
        "study.db",
    ]


def test_checkpointing_arguments_torch_would_refuse_are_refused_at_check(here, capsys):
    for given, words in (
        ({"use_reentrant": False, "foo": 1}, ("unknown key 'foo'", "use_reentrant")),
        ({"use_reentrant": "no"}, ("use_reentrant must be true or false",)),
        ({"debug": True}, ("debug: true needs use_reentrant: false",)),
        ({"determinism_check": "full", "use_reentrant": False}, ('"default" or "none"',)),
    ):
        refused(
            capsys,
            ["train", "--check", "--activation_checkpointing", "--activation_checkpointing_kwargs", json.dumps(given)],
            "--activation_checkpointing_kwargs:",
            *words,
        )
    kwargs = json.dumps({"use_reentrant": False, "debug": True, "preserve_rng_state": False})
    assert main(["train", "--check", "--activation_checkpointing", "--activation_checkpointing_kwargs", kwargs]) == 0


@pytest.mark.slow
def test_a_sweep_whose_every_trial_fails_exits_1(here, capsys):
    # every trial needs use_peft, which the shared fields leave off: each is recorded as failed, none trains
    (here / "space.yaml").write_text("load_in_4bit: {values: [true]}\nlearning_rate: {values: [1.0e-3, 2.0e-3]}\n")
    code = main(
        ["sweep", "--space", "space.yaml", "--max_steps", "2", "--sampler", "grid", "--output_dir", "sw", "--json"]
    )
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert [t["state"] for t in summary["trials"]] == ["fail", "fail"]
    assert all("use_peft" in t["error"] for t in summary["trials"])
    assert code == 1 and "every one failed" in captured.err


def test_data_and_model_files_nested_thousands_deep_are_one_line(here, capsys):
    (here / "deep.jsonl").write_text("[" * 50_000 + "]" * 50_000 + "\n")
    (here / "model").mkdir()
    (here / "model" / "config.json").write_text(DEEP_JSON)
    refused(capsys, ["train", "--check", "--dataset", "deep.jsonl"], "--dataset:", "line 1", "nested")
    refused(capsys, ["train", "--check", "--model", "model"], "--model:", "config.json", "nested")
    memory = ["memory", "--model", "model", "--per_device_train_batch_size", "1", "--max_length", "8"]
    refused(capsys, memory, "--model:", "config.json", "nested")
