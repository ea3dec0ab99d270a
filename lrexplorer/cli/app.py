"""`lrexplorer app`: start the web app on this machine (Streamlit serving `lrexplorer/app/main.py`).

It listens on 127.0.0.1 unless `--host` says otherwise, as Jupyter, TensorBoard and MLflow do: the app
starts runs and reads files on this machine, so reaching it from the network is a deliberate choice.
The app's Streamlit settings live here (they travel with the package, which a `.streamlit/config.toml`
in a clone would not); options this command does not know go to Streamlit as they are.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501

# The Streamlit settings the app ships with. Each is passed on the command line, so they apply wherever
# the app is started from.
SETTINGS: dict[str, str] = {
    # A local tool: hide the hosting ("Deploy") entries of the toolbar and send no usage statistics.
    "client.toolbarMode": "minimal",
    "browser.gatherUsageStats": "false",
    # No file watching: a run writing checkpoints next to watched files overflowed Streamlit's inotify
    # queue (tens of thousands of log lines) and took CPU from the training. `--dev` turns it back on.
    "server.fileWatcherType": "none",
    # Streamlit collects garbage after every rerun by default; with plotly and pandas loaded that costs
    # ~90 ms per viewer per live-chart tick and made server CPU grow with the number of viewers.
    "runner.postScriptGC": "false",
}
# `--dev`: reload the app when its code is saved.
DEV_SETTINGS: dict[str, str] = {"server.fileWatcherType": "auto", "server.runOnSave": "true"}

DESCRIPTION = """\
Start the lrexplorer web app and print its address. It listens on 127.0.0.1 (this machine only)
unless --host is given. Stop it with Ctrl+C; runs started from the app keep training."""

EPILOG = """\
examples:
  lrexplorer app                       # http://127.0.0.1:8501
  lrexplorer app --port 8600 --server.headless true
  lrexplorer app --dev                 # reload when the code is saved

Options not listed above (e.g. --server.headless true, --theme.base dark) go to Streamlit."""


def add_parser(subparsers: Any) -> None:
    """Register `app`: --host, --port, --dev; unknown options are Streamlit's (see `main` in cli.py)."""
    p = subparsers.add_parser(
        "app",
        help="start the web app (on 127.0.0.1 unless --host is given)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    p.set_defaults(handler=run, passes_unknown=True)
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default: {DEFAULT_PORT})")
    p.add_argument("--dev", action="store_true", help="reload the app when its code is saved (for development)")


def streamlit_command(host: str, port: int, dev: bool = False, extra: list[str] | None = None) -> list[str]:
    """The `python -m streamlit run` command line that serves the app with its shipped settings."""
    from lrexplorer.core.resources import APP_SCRIPT

    settings = {**SETTINGS, **(DEV_SETTINGS if dev else {}), "server.address": host, "server.port": str(port)}
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT)]
    for key, value in settings.items():
        cmd += [f"--{key}", value]
    return cmd + list(extra or [])  # the user's own Streamlit options last: they win


def run(args: argparse.Namespace) -> int:
    from lrexplorer.core.fields import FieldError

    if not 0 < args.port < 65536:
        raise FieldError("port", f"must be between 1 and 65535, got {args.port}")
    cmd = streamlit_command(args.host, args.port, args.dev, args.unknown)
    if os.name == "posix":
        os.execv(cmd[0], cmd)  # Streamlit becomes this process: Ctrl+C and signals reach it directly
    return subprocess.call(cmd)
