"""The README's command examples run from a fresh clone: every file they name is in the repository, and the
cluster export example writes its files."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[list[str]]:
    """Every `lrexplorer ...` command of the README's bash blocks, continuation lines joined."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            command = line.split("  #")[0].strip()
            if command.startswith("lrexplorer "):
                commands.append(shlex.split(command))
    return commands


def test_every_file_a_readme_command_reads_is_shipped():
    commands = readme_commands()
    assert len(commands) > 10
    for words in commands:
        for flag in ("--config", "--space", "--facts"):
            if flag in words:
                named = words[words.index(flag) + 1]
                assert (ROOT / named).is_file(), f"{' '.join(words)}: {named} is not in the repository"


def test_the_cluster_export_example_runs(tmp_path):
    words = next(w for w in readme_commands() if "--num_machines" in w)
    out = tmp_path / "cluster"
    words[words.index("--export") + 1] = str(out)
    env = {"LRX_RUNS_DIR": str(tmp_path / "runs"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "lrexplorer", *words[1:]],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("accelerate.sh", "accelerate_config.yaml", "slurm.sbatch", "train.py"):
        assert (out / name).is_file(), name
    assert "num_machines: 2" in (out / "accelerate_config.yaml").read_text()
