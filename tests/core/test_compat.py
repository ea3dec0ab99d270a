"""lrexplorer.core.compat: the supported ranges come from pyproject.toml, a version outside them is refused with
one line naming the package and the range (by `require`, the CLI, the memory worker and a DeepSpeed rank),
and every package the code refuses has an upper bound to refuse beyond."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from lrexplorer.core import compat
from lrexplorer.core.compat import UnsupportedVersion

ROOT = Path(__file__).resolve().parents[2]
CLI_FSDP = [
    "memory",
    "--model",
    "SmolLM2-135M",
    "--per_device_train_batch_size",
    "1",
    "--max_length",
    "1024",
    "--bf16",
    "--num_gpus",
    "8",
    "--fsdp",
    "--trainer",
    "transformers",
    "--simulate",
]
ACCELERATE_REFUSED = "accelerate 1.17.0 is installed, but the FSDP2 simulation supports accelerate >=1.15,<1.17"


def pyproject_requirements() -> dict[str, Requirement]:
    """Every requirement of pyproject.toml (dependencies and extras), read here without lrexplorer.core.compat."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    texts = [*project["dependencies"], *(r for group in project["optional-dependencies"].values() for r in group)]
    return {canonicalize_name(Requirement(t).name): Requirement(t) for t in texts}


def versions(monkeypatch, **found: str | None) -> None:
    """Report these installed versions (package=version, None for not installed) to lrexplorer.core.compat."""
    real = compat.installed_version
    monkeypatch.setattr(compat, "installed_version", lambda p: found[p] if p in found else real(p))


def test_the_ranges_are_pyproject_s() -> None:
    declared = pyproject_requirements()
    for package in ("accelerate", "torch", "trl", "transformers", "deepspeed"):
        assert compat.supported_range(package) == declared[package].specifier, package
    assert compat.range_text(compat.supported_range("accelerate")) == ">=1.15,<1.17"
    with pytest.raises(LookupError, match="not among lrexplorer's declared requirements"):
        compat.supported_range("left-pad")


def test_the_checkout_s_pyproject_wins_over_stale_install_metadata(monkeypatch) -> None:
    """An editable install's metadata is a snapshot of pyproject.toml at install time."""
    monkeypatch.setattr(compat.metadata, "requires", lambda name: ["accelerate>=1.0"])
    compat.declared_ranges.cache_clear()
    try:
        assert compat.range_text(compat.supported_range("accelerate")) == ">=1.15,<1.17"
        # Without a checkout (an installed wheel) the distribution's metadata is the source.
        monkeypatch.setattr(compat, "_pyproject_requirements", lambda: None)
        compat.declared_ranges.cache_clear()
        assert compat.range_text(compat.supported_range("accelerate")) == ">=1.0"
    finally:
        compat.declared_ranges.cache_clear()


def test_require_refuses_a_version_outside_the_range_naming_package_and_range(monkeypatch) -> None:
    versions(monkeypatch, accelerate="1.17.0")
    with pytest.raises(UnsupportedVersion) as err:
        compat.require("accelerate", "the FSDP2 simulation", "it calls accelerate's fsdp2_prepare_model")
    assert str(err.value) == (
        f"{ACCELERATE_REFUSED} (it calls accelerate's fsdp2_prepare_model); "
        "install a supported version: pip install 'accelerate>=1.15,<1.17'"
    )
    for old_or_new in ("1.14.9", "1.17.0rc1", "2.0.0", "not-a-version"):
        versions(monkeypatch, accelerate=old_or_new)
        with pytest.raises(UnsupportedVersion, match=r"accelerate >=1\.15,<1\.17"):
            compat.require("accelerate", "the FSDP2 simulation")
    versions(monkeypatch, accelerate=None)
    with pytest.raises(UnsupportedVersion, match=r"^accelerate is not installed, but the FSDP2 simulation supports"):
        compat.require("accelerate", "the FSDP2 simulation")


@pytest.mark.parametrize("version", ["2.13.0+cpu", "2.15.1+cu128", "2.14.0", "2.15.0rc2"])
def test_require_accepts_local_and_pre_release_versions_inside_the_range(monkeypatch, version: str) -> None:
    versions(monkeypatch, torch=version)
    assert compat.require("torch", "the FSDP2 simulation") == version


@pytest.mark.parametrize("version", ["2.16.0+cpu", "2.12.1+cu126"])
def test_require_judges_local_versions_by_their_public_part(monkeypatch, version: str) -> None:
    versions(monkeypatch, torch=version)
    with pytest.raises(UnsupportedVersion, match=rf"torch {re.escape(version)} is installed, .* torch >=2\.13,<2\.16"):
        compat.require("torch", "the FSDP2 simulation")


def test_an_error_inside_the_library_call_names_the_package_and_the_range() -> None:
    installed = compat.installed_version("accelerate")
    with (
        pytest.raises(UnsupportedVersion) as err,
        compat.uses_internals("accelerate", "the FSDP2 simulation", "it calls accelerate's fsdp2_prepare_model"),
    ):
        raise AttributeError("'FsdpAcceleratorView' object has no attribute 'device'")
    text = str(err.value)
    assert text.startswith(f"the FSDP2 simulation failed inside accelerate {installed} (it calls accelerate's")
    assert "AttributeError: 'FsdpAcceleratorView' object has no attribute 'device'" in text
    assert "accelerate >=1.15,<1.17" in text and "\n" not in text
    assert isinstance(err.value.__cause__, AttributeError)
    with pytest.raises(ValueError), compat.uses_internals("accelerate", "x", "y"):  # other errors pass through
        raise ValueError("ours")


def required_packages() -> dict[str, list[str]]:
    """Each package the code passes to compat.require / compat.uses_internals, with where."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "lrexplorer").rglob("*.py")):
        if path.name == "compat.py":  # its own calls pass the package on
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("require", "uses_internals") and node.args:
                first = node.args[0]
                assert isinstance(first, ast.Constant), f"{path}:{node.lineno}: name the package literally"
                found.setdefault(str(first.value), []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_package_the_code_refuses_has_an_upper_bound_in_pyproject() -> None:
    used = required_packages()
    assert {"accelerate", "torch", "transformers", "trl", "deepspeed"} <= used.keys(), used
    declared = pyproject_requirements()
    for package, where in used.items():
        assert canonicalize_name(package) in declared, (package, where)
        operators = {s.operator for s in declared[canonicalize_name(package)].specifier}
        assert operators & {"<", "<=", "==", "~=", "==="}, f"{package} has no upper bound in pyproject.toml ({where})"


def shadowed_version(tmp_path: Path, package: str, version: str) -> dict[str, str]:
    """An environment in which `package`'s metadata reports `version` (its code stays the installed one)."""
    info = tmp_path / f"{package}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n", encoding="utf-8")
    return cli_env(tmp_path)


def cli_env(*first: Path) -> dict[str, str]:
    """The environment of a CLI subprocess: this checkout (after `first`) ahead of the caller's PYTHONPATH."""
    path = [*map(str, first), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path), "HF_HUB_OFFLINE": "1"}


def test_the_cli_refuses_an_unsupported_accelerate_in_one_line(tmp_path: Path) -> None:
    env = shadowed_version(tmp_path, "accelerate", "1.17.0")
    done = subprocess.run(
        [sys.executable, "-m", "lrexplorer", *CLI_FSDP], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("lrexplorer memory: error:")]
    assert len(errors) == 1, done.stderr
    assert ACCELERATE_REFUSED in errors[0] and "pip install 'accelerate>=1.15,<1.17'" in errors[0]
    assert done.stdout == ""


def test_the_memory_worker_reports_the_refusal_as_its_message(monkeypatch, capsys) -> None:
    """The Memory page shows the worker's error line as it is, under "The simulated step failed"."""
    from lrexplorer.memory.pytorch import engine_process

    versions(monkeypatch, accelerate="1.17.0")
    spec = {"mode": "simulate", "model": "SmolLM2-135M", "setup": {"fsdp": True, "num_gpus": 8, "max_length": 64}}
    assert engine_process.main([json.dumps(spec)]) == 1
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["error"].startswith(ACCELERATE_REFUSED), last


def test_a_deepspeed_rank_refuses_an_unsupported_deepspeed(monkeypatch) -> None:
    from lrexplorer.runs.training.distributed import prepare_deepspeed_rank

    versions(monkeypatch, deepspeed="0.20.1")
    with pytest.raises(UnsupportedVersion, match=r"deepspeed 0\.20\.1 is installed, but a DeepSpeed run supports "):
        prepare_deepspeed_rank()


@pytest.mark.slow
def test_the_cli_simulates_fsdp2_on_the_installed_accelerate() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lrexplorer", *CLI_FSDP], capture_output=True, text=True, env=cli_env(), timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert "engine: simulated" in done.stdout and "per GPU (rank) of 8" in done.stdout, done.stdout
    peak = re.search(r"^PEAK .* (\d+\.\d+)$", done.stdout, re.MULTILINE)
    assert peak is not None and 0 < float(peak.group(1)) < 4, done.stdout
