"""The complete bundle runs anywhere: written for the built-in model and data by the function the Runs page
calls, unzipped outside the repository, and run by python, `trl sft` and `accelerate launch` with nothing
pointing back at the clone (no PYTHONPATH, another working directory, the Hub offline)."""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from helpers.run_folders import make_run

from lrexplorer.catalogues import builtin
from lrexplorer.cli import main
from lrexplorer.core.facts import Facts
from lrexplorer.runs.exports.bundle import README, zip_bundle
from lrexplorer.runs.exports.script import ACCELERATE, SCRIPT, TRL_YAML, python_script
from lrexplorer.runs.folder import store
from lrexplorer.runs.spec import RunSpec

REPO = builtin.ASSETS.parent
NAME = "alpha"
TEXT = {".py", ".sh", ".yaml", ".md", ".json", ".jsonl", ".jinja", ".txt"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("runs"), NAME, config={"max_steps": 2})


@pytest.fixture(scope="module")
def zipped(run_dir) -> bytes:
    return zip_bundle(store.read_spec(run_dir), run_dir.name)  # as the Runs page's bundle button does


@pytest.fixture
def unzipped(zipped, tmp_path) -> Path:
    zipfile.ZipFile(io.BytesIO(zipped)).extractall(tmp_path)
    assert not tmp_path.resolve().is_relative_to(REPO.resolve()), "the bundle must run outside the clone"
    return tmp_path / NAME


def standalone_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HF_HUB_OFFLINE"] = "1"
    # The environment's own `trl` and `accelerate` commands, whether or not its bin folder is on PATH.
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    return env


def test_bundle_holds_its_files_and_no_path_of_the_clone_or_tmp(unzipped):
    names = {p.relative_to(unzipped).as_posix() for p in unzipped.rglob("*") if p.is_file()}
    assert {SCRIPT, TRL_YAML, ACCELERATE, README, "initial_model/config.json"} <= names
    assert {"assets/tokenizer/tokenizer.json", "assets/datasets/arithmetic/train.jsonl"} <= names
    assert not [n for n in names if n.startswith("assets/datasets/facts")], "only the dataset the spec uses"
    forbidden = {str(REPO), str(REPO.resolve()), "/tmp", tempfile.gettempdir()}
    for path in unzipped.rglob("*"):
        if path.suffix in TEXT:
            text = path.read_text(encoding="utf-8")
            assert not [f for f in forbidden if f in text], path.relative_to(unzipped)
    readme = (unzipped / README).read_text(encoding="utf-8")
    assert "assets/datasets/arithmetic/" in readme and "inside the unzipped folder" in readme


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"lr_scheduler_type": "StepLR", "lr_scheduler_kwargs": {"step_size": 3}},
        {"use_peft": True, "load_in_4bit": True, "model": "someone/model", "dataset": "someone/data"},
    ],
)
def test_exported_script_imports_only_the_training_libraries(values):
    facts = Facts(gpu_capabilities=(), cpu_bf16=True, flash_attn=False)
    tree = ast.parse(python_script(RunSpec(dict(RunSpec.from_dict({}).values, **values)), facts))
    imported = {alias.name for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names}
    imported |= {n.module or "." for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    allowed = {"os", "sys", "pathlib", "collections", "typing", "datasets", "torch", "transformers", "trl"}
    assert {m.split(".")[0] for m in imported} <= allowed | {"peft", "accelerate"}, imported


def test_cli_runs_export_writes_the_same_bundle(tmp_path, run_dir, zipped, capsys):
    dest = tmp_path / "out"
    assert main(["runs", "export", NAME, str(dest), "--runs_dir", str(run_dir.parent)]) == 0
    written = {Path(line).name for line in capsys.readouterr().out.split()}
    assert {SCRIPT, ACCELERATE, TRL_YAML, README, "assets", "initial_model"} <= written
    in_zip = {n.removeprefix(f"{NAME}/") for n in zipfile.ZipFile(io.BytesIO(zipped)).namelist()}
    assert {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()} == in_zip
    for name in (SCRIPT, TRL_YAML, ACCELERATE, README):
        assert (dest / name).read_text() == zipfile.ZipFile(io.BytesIO(zipped)).read(f"{NAME}/{name}").decode()


@pytest.mark.slow
def test_unzipped_bundle_runs_with_python_trl_sft_and_accelerate(unzipped, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    runs = {
        "python": ([sys.executable, str(unzipped / SCRIPT)], elsewhere),  # train.py finds its files by itself
        "trl sft": (["trl", "sft", "--config", TRL_YAML], unzipped),
        "accelerate": (["bash", ACCELERATE], unzipped),
    }
    for name, (command, cwd) in runs.items():
        result = subprocess.run(command, cwd=cwd, env=standalone_env(), capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{name}: {result.stderr[-3000:]}"
        output = unzipped / "sft-output"
        states = [json.loads(p.read_text()) for p in output.rglob("trainer_state.json")]
        assert states and all(s["global_step"] == 2 for s in states), name
        assert list(output.rglob("model.safetensors")), f"{name} saved no model"
        output.rename(unzipped / f"output-{name.replace(' ', '-')}")  # the next command writes afresh
    assert not list(elsewhere.iterdir()), "nothing written into the working directory"
