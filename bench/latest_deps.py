"""The drift check: would the newest releases still pass? Moves the lock when they do.

    python bench/latest_deps.py                  # resolve the newest releases, test them, print what moved
    python bench/latest_deps.py --move           # ... and, if the fast suite passes, write them to the locks
    python bench/latest_deps.py --beyond-bounds  # also past pyproject.toml's upper bounds (to try lifting one)

1. Resolves the newest releases within pyproject.toml's ranges with uv, for every platform and Python 3.11+
   (`uv pip compile --universal`): `requirements-test.lock` (the app and the test extra), then
   `requirements.lock` (the app alone) constrained to the same versions. torch stays at the locked version
   unless `--torch`: its newest release is a separate, multi-GB decision (and PyTorch's own indexes).
2. Prints which packages moved (locked -> newest).
3. Installs the candidate in a scratch venv exactly as `./run.sh` installs a lock (scripts/setup_env.py) and
   runs the fast suite (`pytest -m "not slow"`) there, then prints what broke.
4. With `--move`, and only if the suite passed, writes the candidate over the committed locks.

The locks keep torch's CUDA runtime (nvidia-*, cuda-*, triton) as resolved for Linux; scripts/setup_env.py
leaves those to the torch install, which adds them only where an NVIDIA GPU is present.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import setup_env

LOCKS = {"test": ROOT / "requirements-test.lock", "app": ROOT / "requirements.lock"}
COMPILE = ["pip", "compile", "--universal", "--python-version", "3.11", "--quiet"]
HEADER = "python bench/latest_deps.py --move"


def requirements(extra: bool, beyond_bounds: bool) -> list[str]:
    """pyproject.toml's requirements (with the test extra), their upper bounds dropped if asked."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"]) + (project["optional-dependencies"]["test"] if extra else [])
    if beyond_bounds:
        reqs = [re.sub(r",\s*<[^,;]+", "", r) for r in reqs]
    return reqs


def pins(lock: Path) -> dict[str, str]:
    """name -> version of every line of a lock; a package locked per platform or Python keeps its lines joined."""
    found: dict[str, list[str]] = {}
    if lock.exists():
        for line in lock.read_text().splitlines():
            if "==" in line and not line.startswith(("#", " ")):
                name, rest = line.split("==", 1)
                found.setdefault(name.strip(), []).append(rest.split(";")[0].strip())
    return {name: " / ".join(dict.fromkeys(versions)) for name, versions in found.items()}


def compile_locks(dest: Path, uv: str, args: argparse.Namespace) -> dict[str, Path]:
    constraints = list(args.constraint)
    if not args.torch and not any(c.startswith("torch") for c in constraints):
        constraints.append(f"torch=={setup_env.locked_version(LOCKS['test'], 'torch')}")
    (dest / "constraints.txt").write_text("\n".join(constraints) + "\n")
    options = ["-c", str(dest / "constraints.txt"), "--custom-compile-command", HEADER]
    if args.exclude_newer:
        options += ["--exclude-newer", args.exclude_newer]
    out = {name: dest / path.name for name, path in LOCKS.items()}
    for name, extra in (("test", True), ("app", False)):
        source = dest / f"{name}.in"
        source.write_text("\n".join(requirements(extra, args.beyond_bounds)) + "\n")
        same = ["-c", str(out["test"])] if name == "app" else []  # the app lock: the test lock's versions
        subprocess.run([uv, *COMPILE, str(source), *options, *same, "-o", str(out[name])], check=True, cwd=dest)
        # uv names its inputs by their temporary files; say what they really are.
        text = out[name].read_text().replace(f"-r {source.name}", "pyproject.toml")
        out[name].write_text(text.replace("-c constraints.txt", "(a constraint of this move: torch, or --constraint)"))
    return out


def moved(old: dict[str, str], new: dict[str, str]) -> list[tuple[str, str, str]]:
    names = sorted(set(old) | set(new))
    return [(n, old.get(n, "-"), new.get(n, "-")) for n in names if old.get(n) != new.get(n)]


def fast_suite(lock: Path, keep: Path | None) -> tuple[bool, str, list[str]]:
    """Install `lock` in a scratch venv and run the fast suite there: (passed, summary line, failed tests)."""
    venv = (keep or Path(tempfile.mkdtemp(prefix="lrx-drift-"))) / "venv"
    setup_env.setup(venv, lock)
    env = dict(os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
    cmd = [str(venv / "bin" / "python"), "-m", "pytest", "-m", "not slow", "-n", "2", "-q", "-p", "no:cacheprovider"]
    start = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    lines = (done.stdout + done.stderr).splitlines()
    failed = [ln.split(" - ")[0].split(" ", 1)[1] for ln in lines if ln.startswith(("FAILED ", "ERROR "))]
    summary = next(
        (ln.strip("= ") for ln in reversed(lines) if " in " in ln and ("passed" in ln or "failed" in ln)), ""
    )
    summary = f"{summary} ({time.monotonic() - start:.0f} s)"
    if keep is None:
        shutil.rmtree(venv.parent, ignore_errors=True)
    return done.returncode == 0, summary, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--move", action="store_true", help="write the candidate over the locks if the suite passes")
    parser.add_argument("--no-test", action="store_true", help="resolve and compare only (with --move: write untested)")
    parser.add_argument("--torch", action="store_true", help="let torch move too")
    parser.add_argument("--beyond-bounds", action="store_true", help="ignore pyproject.toml's upper bounds")
    parser.add_argument(
        "--constraint", "-c", action="append", default=[], help="an extra constraint, e.g. accelerate==1.15.0"
    )
    parser.add_argument("--exclude-newer", help="resolve as of this date (uv's --exclude-newer), e.g. 2026-11-30")
    parser.add_argument("--keep", type=Path, help="build the scratch venv here and keep it")
    args = parser.parse_args()
    if args.move and args.beyond_bounds:
        parser.error(
            "--move with --beyond-bounds would lock versions pyproject.toml does not allow; lift the bound first"
        )
    uv = shutil.which("uv") or str(ROOT / ".venv" / "bin" / "uv")
    with tempfile.TemporaryDirectory(prefix="lrx-lock-") as tmp:
        candidate = compile_locks(Path(tmp), uv, args)
        changes = moved(pins(LOCKS["test"]), pins(candidate["test"]))
        print("| package | locked | newest |\n| --- | --- | --- |")
        for name, old, new in changes:
            print(f"| {name} | {old} | {new} |")
        if not changes:
            print("(nothing moved)")
        passed, summary, failed = True, "not run (--no-test)", []
        if not args.no_test and changes:
            passed, summary, failed = fast_suite(candidate["test"], args.keep)
        print(f"\nfast suite on the newest versions: {summary}")
        for test in failed:
            print(f"  broke: {test}")
        if args.move and changes and passed:
            for name, path in LOCKS.items():
                shutil.copyfile(candidate[name], path)
            print("locks moved: " + ", ".join(p.name for p in LOCKS.values()))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
