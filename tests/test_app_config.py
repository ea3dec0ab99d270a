"""The shipped Streamlit configuration, read by Streamlit itself from the repository root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READ = (
    "from streamlit import config; config.get_config_options(force_reparse=True); "
    "print(config.get_option('server.fileWatcherType'), config.get_option('server.runOnSave'))"
)


def test_shipped_config_watches_no_files():
    # Watching the app's folder meant watching runs/: a training run's checkpoint writes overflowed the
    # watcher and took CPU from the run. ./run.sh dev turns watching back on for development.
    out = subprocess.run([sys.executable, "-c", READ], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["none", "False"]
    assert "--server.fileWatcherType auto" in (ROOT / "run.sh").read_text()
