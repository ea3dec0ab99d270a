"""Install lrexplorer and the exact versions of its lock file into a virtual environment.

`./run.sh` calls this before it starts the app or the tests, and `bench/latest_deps.py` calls it to build
a scratch environment from a candidate lock, so both install the same way:

1. the venv (made with the Python running this script when it is missing);
2. uv, pinned below, into the venv: it installs the same wheels as pip from the same index, several
   times faster;
3. torch, at the lock's version, in the build that suits the machine: the CUDA build (with its NVIDIA
   libraries) where an NVIDIA GPU is present; elsewhere the CPU build from PyTorch's CPU index when it
   answers, else whatever pip's own configuration gives (a mirror or a local wheel folder may hold a CPU
   build; PyPI's Linux wheel is the CUDA one). It says which build it installed.
4. every other locked package, with `--no-deps`: the lock is the whole set, nothing is resolved again;
5. lrexplorer itself, editable.

Runs with the standard library only (it runs before anything is installed). Nothing is reinstalled when
the lock, pyproject.toml and this script are unchanged since the last install into that venv.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UV_VERSION = "0.13.10"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# torch's CUDA runtime: recorded in the lock, installed by the torch step (only on NVIDIA machines). nvidia-ml-py
# is lrexplorer's own NVML binding (GPU detection), not part of it.
CUDA_RUNTIME_PREFIXES = ("nvidia-", "cuda-", "triton")
OURS = ("nvidia-ml-py",)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(cmd: list[str | Path], logfile: Path) -> None:
    """Run `cmd`, its output appended to `logfile`; on failure show the log's tail and stop."""
    with logfile.open("a") as out:
        out.write("$ " + " ".join(map(str, cmd)) + "\n")
        out.flush()
        done = subprocess.run(list(map(str, cmd)), stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = logfile.read_text(errors="replace").splitlines()[-40:]
        log("\n".join(tail))
        log(f"Installation failed ({cmd[0]} exited with {done.returncode}); the full log is in {logfile}")
        sys.exit(1)


def locked_version(lock: Path, name: str) -> str:
    for line in lock.read_text().splitlines():
        if line.startswith(name + "=="):
            return line.split("==", 1)[1].split(";")[0].strip()
    raise SystemExit(f"{lock} names no version of {name}")


def has_nvidia_gpu() -> bool:
    """An NVIDIA driver with at least one GPU (what a CUDA build of torch needs to be of any use)."""
    if os.environ.get("LRX_TORCH_BUILD") in ("cpu", "cuda"):
        return os.environ["LRX_TORCH_BUILD"] == "cuda"
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return Path("/proc/driver/nvidia/gpus").is_dir() and any(Path("/proc/driver/nvidia/gpus").iterdir())
    found = subprocess.run([smi, "-L"], capture_output=True, text=True, check=False)
    return found.returncode == 0 and "GPU" in found.stdout


def reachable(url: str, timeout: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status < 400)
    except OSError:
        return False


def wheel_folder_with(python: Path, name: str, version: str) -> str | None:
    """A local folder of wheels that pip's configuration names (find-links) and that holds `name` at `version`."""
    found = subprocess.run([str(python), "-m", "pip", "config", "list"], capture_output=True, text=True, check=False)
    folders = []
    for line in found.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.endswith(".find-links"):
            folders += [f for f in value.strip("'\"").split() if not f.startswith(("http:", "https:"))]
    for folder in dict.fromkeys(f.removeprefix("file://") for f in folders):
        if list(Path(folder).glob(f"{name}-{version}-*.whl")) + list(Path(folder).glob(f"{name}-{version}+*.whl")):
            return folder
    return None


def installed_torch(python: Path) -> tuple[str, str | None] | None:
    """(version, CUDA version or None) of the torch in the venv, or None when there is none."""
    probe = "import torch; print(torch.__version__); print(torch.version.cuda or '')"
    found = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=False)
    if found.returncode != 0:
        return None
    version, cuda = ([*found.stdout.splitlines(), "", ""])[:2]
    return version, cuda or None


def install_torch(venv: Path, version: str, logfile: Path) -> None:
    python, uv = venv / "bin" / "python", venv / "bin" / "uv"
    have = installed_torch(python)
    if have is not None and have[0].split("+")[0] == version:
        return
    if has_nvidia_gpu():
        log(f"Installing torch {version}, CUDA build (an NVIDIA GPU is present) ...")
        run([uv, "pip", "install", "--python", python, f"torch=={version}"], logfile)
    elif reachable(CPU_INDEX + "/torch/"):
        log(f"Installing torch {version}, CPU build from PyTorch's CPU index (no NVIDIA GPU found) ...")
        run(
            [uv, "pip", "install", "--python", python, "--index-url", CPU_INDEX, "--no-deps", f"torch=={version}"],
            logfile,
        )
    elif folder := wheel_folder_with(python, "torch", version):
        # A folder of wheels named in pip's configuration holds this torch (a CPU build, on this project's
        # machines): uv installs it from there alone, and from its cache the next time in about a second.
        log(f"Installing torch {version} from {folder} (a folder of wheels in pip's configuration) ...")
        run(
            [
                uv,
                "pip",
                "install",
                "--python",
                python,
                "--no-deps",
                "--no-index",
                "--find-links",
                folder,
                f"torch=={version}",
            ],
            logfile,
        )
    else:
        # pip rather than uv: pip's own configuration (a mirror, an index) may hold a CPU build.
        log(f"Installing torch {version} with pip (PyTorch's CPU index cannot be reached) ...")
        run([python, "-m", "pip", "install", f"torch=={version}"], logfile)
    version_now, cuda = installed_torch(python) or ("?", None)
    build = f"CUDA {cuda} build" if cuda else "CPU build"
    log(f"torch {version_now} installed: the {build}.")
    if cuda and not has_nvidia_gpu():
        log("  This machine has no NVIDIA GPU: the CUDA build runs on the CPU but takes several GB more.")


def lock_lines(lock: Path) -> list[str]:
    """The lock's requirement lines without torch's CUDA runtime (installed with torch where it is used)."""
    keep = []
    for line in lock.read_text().splitlines():
        name = line.split("==", 1)[0]
        if "==" in line and not line.startswith("#") and (name in OURS or not name.startswith(CUDA_RUNTIME_PREFIXES)):
            keep.append(line)
    return keep


def fingerprint(lock: Path) -> str:
    digest = hashlib.sha256()
    for path in (lock, ROOT / "pyproject.toml", Path(__file__)):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def setup(venv: Path, lock: Path, quiet_if_done: bool = True) -> None:
    venv = venv.absolute()
    stamp = venv / f".lrx-installed-{lock.name}"
    if stamp.exists() and stamp.read_text() == fingerprint(lock):
        return
    if not (venv / "bin" / "python").exists():
        log(f"Creating {venv} ...")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    logfile = venv / "install.log"
    log(
        f"Installing lrexplorer and the versions of {lock.name} into {venv} (a first install takes a minute or two) ..."
    )
    python, uv = venv / "bin" / "python", venv / "bin" / "uv"
    if not uv.exists():
        run([python, "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}"], logfile)
    install_torch(venv, locked_version(lock, "torch"), logfile)
    requirements = venv / f".{lock.name}.txt"
    requirements.write_text("\n".join(lock_lines(lock)) + "\n")
    run([uv, "pip", "install", "--python", python, "--no-deps", "-r", requirements], logfile)
    run([uv, "pip", "install", "--python", python, "--no-deps", "-e", ROOT], logfile)
    stamp.write_text(fingerprint(lock))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv")
    parser.add_argument("--lock", type=Path, default=ROOT / "requirements.lock")
    args = parser.parse_args()
    setup(args.venv, args.lock)


if __name__ == "__main__":
    main()
