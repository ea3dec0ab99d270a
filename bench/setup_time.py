"""Set-up as a new user meets it: a fresh clone's `./run.sh app` until the app serves its first page.

    python bench/setup_time.py            # one fresh clone of the committed HEAD
    python bench/setup_time.py --runs 3   # three, one after the other (the package caches stay warm)

Prints, per clone: seconds from `./run.sh app` to the page answering (venv, uv, torch, the locked packages,
lrexplorer, Streamlit's start), the venv's size on disk, and which torch build was installed. The package
caches (uv's and pip's) are whatever this machine has: run it twice to see the warm-cache figure.
Targets (issue 20, a 2-core machine without a GPU): at most 90 s with a warm cache, a venv of at most 2.5 GB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from live_latency import free_port


def size_on_disk(path: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def served(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200 and b"<html" in response.read().lower():
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def one_clone(workdir: Path) -> tuple[float, int, str]:
    clone = workdir / "lrexplorer"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not p.startswith(str(ROOT)))
    port = free_port()
    log = workdir / "run.log"
    start = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["./run.sh", "app", "--port", str(port), "--server.headless", "true"],
            cwd=clone,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        ok = served(f"http://127.0.0.1:{port}/", proc, timeout=1200)
        seconds = time.monotonic() - start
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    if not ok:
        raise SystemExit(f"the app did not start; log:\n{log.read_text()[-3000:]}")
    probe = "import torch; print(torch.__version__, 'CUDA ' + torch.version.cuda if torch.version.cuda else 'CPU')"
    torch = subprocess.run([str(clone / ".venv/bin/python"), "-c", probe], capture_output=True, text=True, check=True)
    return seconds, size_on_disk(clone / ".venv"), torch.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print("| clone | fresh clone to served page | venv on disk | torch |\n| --- | ---: | ---: | --- |")
    for i in range(1, args.runs + 1):
        workdir = Path(tempfile.mkdtemp(prefix="lrx-setup-"))
        try:
            seconds, size, torch = one_clone(workdir)
            print(f"| {i} | {seconds:.0f} s | {size / 1e9:.2f} GB | {torch} |", flush=True)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
