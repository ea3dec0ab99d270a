"""Exports are data, not code: hostile strings in every free-text field come out of train.py, sft.yaml and
accelerate.sh as the same strings, and running the exports executes none of them."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lrexplorer.runs.exports import bundle as bundles
from lrexplorer.runs.exports import script as export
from lrexplorer.runs.spec import RunSpec

PWN = "touch pwned"
HOSTILE = {
    "model": f'x"""; __import__("os").system("{PWN}"); """',
    "dataset": f"d'''\n__import__('os').system('{PWN}')\n$({PWN})`{PWN}`",
    "output_dir": f"out $({PWN}) `{PWN}` \"'; {PWN} #",
    "run_name": f'"""\\\n; {PWN} \\" \'',
    "dataset_config": f'c\n#"""\nimport os; os.system(\'{PWN}\')',
}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    # Built around the catalogue's checks: the exporter must hold even for strings a later version lets in.
    spec = RunSpec(dict(RunSpec.from_dict({}).values, **HOSTILE))
    dest = tmp_path_factory.mktemp("hostile")
    bundles.write_bundle(spec, dest)
    return dest


def test_train_py_holds_every_string_as_a_literal(bundle):
    tree = ast.parse((bundle / export.SCRIPT).read_text(encoding="utf-8"))
    literals = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    for field, value in HOSTILE.items():
        assert value in literals, field
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert not {c for c in calls if "system" in c or c == "__import__"}, calls


def test_sft_yaml_reads_back_the_same_strings(bundle):
    doc = yaml.safe_load((bundle / export.TRL_YAML).read_text(encoding="utf-8"))
    assert doc["model_name_or_path"] == HOSTILE["model"]
    assert doc["dataset_name"] == HOSTILE["dataset"] and doc["dataset_config"] == HOSTILE["dataset_config"]
    assert doc["output_dir"] == HOSTILE["output_dir"] and doc["run_name"] == HOSTILE["run_name"]


def test_accelerate_sh_passes_the_strings_as_single_arguments(bundle, tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "accelerate").write_text('#!/bin/sh\nprintf "%s\\0" "$@" > "$ARGS_OUT"\n')
    (fake / "accelerate").chmod(0o755)
    out = tmp_path / "args"
    env = dict(os.environ, PATH=f"{fake}{os.pathsep}{os.environ['PATH']}", ARGS_OUT=str(out))
    subprocess.run(["sh", str(bundle / export.ACCELERATE)], cwd=tmp_path, env=env, check=True, timeout=30)
    args = out.read_bytes().split(b"\0")[:-1]
    assert args[-2:] == [b"train.py", HOSTILE["output_dir"].encode()]
    assert not (tmp_path / "pwned").exists() and not (bundle / "pwned").exists()


@pytest.mark.slow
def test_running_train_py_fails_on_the_missing_model_with_its_name_intact(bundle, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, str(bundle / export.SCRIPT)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert not (tmp_path / "pwned").exists() and not (bundle / "pwned").exists()
    assert "from_pretrained" in result.stderr and "__import__(" in result.stderr, result.stderr[-3000:]
