"""The locks and the installer: the locked versions satisfy pyproject.toml's ranges, the app's lock is the test
lock's subset at the same versions, torch's CUDA runtime is left to the torch install, and the installer
finds a locked torch in a folder of wheels that pip's configuration names."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))
import latest_deps  # noqa: E402 - scripts/ and bench/ are not packages
import setup_env  # noqa: E402

APP_LOCK, TEST_LOCK = ROOT / "requirements.lock", ROOT / "requirements-test.lock"


def pins(lock: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.startswith(("#", " ")):
            name, rest = line.split("==", 1)
            found.setdefault(canonicalize_name(name), set()).add(rest.split(";")[0].strip())
    return found


def test_every_requirement_of_pyproject_is_locked_within_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    locked = pins(TEST_LOCK)
    for text in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is not in {TEST_LOCK.name}"
        for version in locked[name]:
            assert Version(version) in req.specifier, f"{req.name} {version} is outside {req.specifier}"


def test_the_app_lock_is_the_test_locks_subset_at_the_same_versions():
    app, test = pins(APP_LOCK), pins(TEST_LOCK)
    assert app and set(app) < set(test)
    assert {n: v for n, v in app.items() if test[n] != v} == {}
    assert "pytest" not in app and "deepspeed" not in app


def test_the_installer_leaves_torchs_cuda_runtime_to_the_torch_install():
    lines = setup_env.lock_lines(TEST_LOCK)
    names = [line.split("==")[0] for line in lines]
    assert "torch" in names and "nvidia-ml-py" in names  # our NVML binding is no part of torch's runtime
    assert not [n for n in names if n.startswith(("nvidia-cu", "cuda-", "triton"))]
    assert any(n.startswith("nvidia-cu") for n in pins(TEST_LOCK)), "the lock still records the CUDA runtime"
    assert setup_env.locked_version(TEST_LOCK, "torch") == next(iter(pins(TEST_LOCK)["torch"]))


def test_a_locked_torch_in_a_folder_of_wheels_named_by_pips_configuration_is_found(tmp_path):
    folder = tmp_path / "wheels"
    folder.mkdir()
    (folder / "torch-9.8.7+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    (folder / "torch-1.0.0-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    env = dict(os.environ, PIP_FIND_LINKS=str(folder), PIP_CONFIG_FILE=os.devnull)
    probe = (
        "import sys; sys.path.insert(0, 'scripts'); import setup_env; from pathlib import Path; "
        "p = Path(sys.executable); "
        "print(setup_env.wheel_folder_with(p, 'torch', '9.8.7'), setup_env.wheel_folder_with(p, 'torch', '9.8'))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(folder), "None"]


@pytest.mark.parametrize(("build", "expected"), [("cpu", False), ("cuda", True)])
def test_the_torch_build_can_be_chosen(monkeypatch, build, expected):
    monkeypatch.setenv("LRX_TORCH_BUILD", build)
    assert setup_env.has_nvidia_gpu() is expected


def test_the_drift_check_can_look_past_the_upper_bounds():
    bounded = latest_deps.requirements(extra=True, beyond_bounds=False)
    free = latest_deps.requirements(extra=True, beyond_bounds=True)
    accelerate = next(r for r in bounded if r.startswith("accelerate"))
    assert "<" in accelerate
    assert not [r for r in free if "<" in r.split(";")[0]]
    assert latest_deps.moved({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "1"}) == [("b", "2", "3"), ("c", "-", "1")]
