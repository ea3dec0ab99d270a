"""The package a user installs: the wheel built from this checkout, installed with plain pip into a fresh venv
outside the repository, works from an empty folder with no clone in sight: a built-in run, the knowledge
lab's smallest training setting, and `lrexplorer app` rendering its first page in Chromium.

The fresh venv reaches the locked third-party packages of the test environment through a `.pth` line (so
nothing is downloaded again); lrexplorer itself comes only from the wheel: the test environment's own
editable install is not visible there (a `.pth` file is read only in a site directory of the venv itself),
and the test checks where `lrexplorer` is imported from.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from live_latency import CHROMIUM, CHROMIUM_ARGS  # noqa: E402 - bench/ is not a package

MAX_WHEEL_BYTES = 10 * 2**20  # the shipped weights and data are ~6 MB


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # From a copy of the sources: setuptools reuses a checkout's build/ folder, where files of an older layout
    # may linger and end up in the wheel.
    source = out / "source"

    def skip(folder: str, names: list[str]) -> set[str]:
        top = {".git", ".venv", "build", "dist", "runs"} if Path(folder) == ROOT else set()
        junk = ("__pycache__", ".hypothesis")
        return {n for n in names if n in top or n in junk or n.endswith(".egg-info") or (n[0] == "." and "cache" in n)}

    shutil.copytree(ROOT, source, ignore=skip)
    # No build isolation: the locked environment holds setuptools, so the build needs no network.
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(source)]
    subprocess.run(cmd, check=True, capture_output=True)
    (found,) = out.glob("lrexplorer-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Iterator[tuple[Path, dict[str, str]]]:
    """(an empty working folder, the environment to run the installed `lrexplorer` in)."""
    base = tmp_path_factory.mktemp("user")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "locked_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --ignore-installed: the lrexplorer of the test environment is visible through the .pth line, and pip would
    # otherwise call the requirement satisfied and install nothing.
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--ignore-installed", str(wheel)], check=True
    )
    work = base / "empty"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LRX_RUNS_DIR", "VIRTUAL_ENV")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", HF_HUB_OFFLINE="1", LRX_LOCK_DIR=str(base / "locks"))
    yield work, env


def lrx(installed: tuple[Path, dict[str, str]], *argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    work, env = installed
    return subprocess.run(["lrexplorer", *argv], cwd=work, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_wheel_carries_the_app_and_assets_and_no_tests(wheel):
    assert wheel.stat().st_size < MAX_WHEEL_BYTES, wheel.stat().st_size
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith(("tests/", "bench/", "scripts/", "docs/")) or "/tests/" in n]
    for needed in (
        "lrexplorer/app/main.py",
        "lrexplorer/app/page_scripts/train.py",
        "lrexplorer/assets/tokenizer/tokenizer.json",
        "lrexplorer/assets/datasets/arithmetic/train.jsonl",
        "lrexplorer/assets/knowledge/reader/model.safetensors",
        "lrexplorer/assets/knowledge/facts.jsonl",
        "lrexplorer/assets/presets/Llama-3.1-8B.json",
        "lrexplorer/assets/gpus.json",
    ):
        assert needed in names, needed


def test_lrexplorer_is_imported_from_the_installed_wheel(installed):
    work, env = installed
    found = subprocess.run(
        ["python", "-c", "import lrexplorer.core.resources as r; print(r.PACKAGE)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert "site-packages" in found and not found.startswith(str(ROOT)), found


def test_a_builtin_run_from_an_empty_folder(installed):
    result = lrx(installed, "train", "--max_steps", "4", "--run_id", "first")
    assert result.returncode == 0, result.stderr
    run = installed[0] / "runs" / "first"
    assert (run / "final_model" / "model.safetensors").is_file()
    listed = lrx(installed, "runs", "list")
    assert listed.returncode == 0 and "first" in listed.stdout


def test_the_knowledge_labs_smallest_training_setting(installed):
    out = installed[0] / "lab"
    result = lrx(
        installed, "knowledge", "--methods", "base,ft", "--paraphrases", "1", "--seeds", "1", "--output_dir", str(out)
    )
    assert result.returncode == 0, result.stderr
    results = json.loads((out / "results.json").read_text())
    assert {r["method"] for r in results["results"]} == {"base", "ft"}, results


def test_lrexplorer_app_renders_its_first_page(installed):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    work, env = installed
    log = work.parent / "app.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["lrexplorer", "app", "--port", str(port), "--server.headless", "true"],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                    assert response.read() == b"ok"
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        if not os.path.exists(CHROMIUM):
            pytest.skip(f"the page check needs Debian's chromium at {CHROMIUM}")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url)
            page.get_by_role("heading", name="Learning-rate schedules").wait_for(timeout=60_000)
            assert page.locator("[data-testid='stException']").count() == 0
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
