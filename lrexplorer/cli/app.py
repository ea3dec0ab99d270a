"""`lrexplorer app`: start the web app on this machine (Streamlit serving `lrexplorer/app/main.py`).

It listens on 127.0.0.1 unless `--host` says otherwise, as Jupyter, TensorBoard and MLflow do: the app
starts runs and reads files on this machine, so reaching it from the network is a deliberate choice.
The app's Streamlit settings live here (they travel with the package, which a `.streamlit/config.toml`
in a clone would not); options this command does not know go to Streamlit as they are.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import socket
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
# `--share`: a class on the network sees no tracebacks (they name the server's files).
SHARE_SETTINGS: dict[str, str] = {"client.showErrorDetails": "none"}
# The app reads the class mode and the teacher's token from these (set by `--share` for the server it starts).
SHARE_ENV, TOKEN_ENV = "LRX_SHARE", "LRX_TEACHER_TOKEN"
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")

DESCRIPTION = """\
Start the lrexplorer web app and print its address. It listens on 127.0.0.1 (this machine only)
unless --host is given. Stop it with Ctrl+C; runs started from the app keep training.

--share starts a class session: the app listens on every interface (or --host) and two links are
printed. The class link shows everything and changes nothing on this machine; the teacher link carries
a token that allows actions (start, stop, delete, merge, export, chat). The token is new at every start
unless LRX_TEACHER_TOKEN is set (16 to 128 letters, digits, '-' or '_')."""

EPILOG = """\
examples:
  lrexplorer app                       # http://127.0.0.1:8501
  lrexplorer app --port 8600 --server.headless true
  lrexplorer app --dev                 # reload when the code is saved
  lrexplorer app --share               # a class on the network: a view-only link and a teacher link

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
    p.add_argument(
        "--host", default=None, help=f"address to listen on (default: {DEFAULT_HOST}; with --share, every interface)"
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default: {DEFAULT_PORT})")
    p.add_argument("--dev", action="store_true", help="reload the app when its code is saved (for development)")
    p.add_argument(
        "--share", action="store_true", help="a class session: view-only for the room, a teacher link for actions"
    )


def streamlit_command(
    host: str, port: int, dev: bool = False, extra: list[str] | None = None, share: bool = False
) -> list[str]:
    """The `python -m streamlit run` command line that serves the app with its shipped settings."""
    from lrexplorer.core.resources import APP_SCRIPT

    settings = {**SETTINGS, **(DEV_SETTINGS if dev else {}), **(SHARE_SETTINGS if share else {})}
    settings.update({"server.address": host, "server.port": str(port)})
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT)]
    for key, value in settings.items():
        cmd += [f"--{key}", value]
    return cmd + list(extra or [])  # the user's own Streamlit options last: they win


def teacher_token() -> str:
    """LRX_TEACHER_TOKEN when set (checked), else a new random token for this start."""
    from lrexplorer.core.fields import FieldError

    given = os.environ.get(TOKEN_ENV)
    if given is None:
        return secrets.token_urlsafe(24)
    if not TOKEN_PATTERN.match(given):
        raise FieldError(TOKEN_ENV, "must be 16 to 128 letters, digits, '-' or '_' (it travels in a URL)")
    return given


def reachable_address(host: str) -> str:
    """The address the class types: the host given, or for every interface this machine's network address."""
    if host not in ("0.0.0.0", "::", ""):
        return f"[{host}]" if ":" in host else host
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # sends nothing: picks the interface a packet would leave by
            return str(s.getsockname()[0])
        except OSError:
            return socket.gethostname()


def run(args: argparse.Namespace) -> int:
    from lrexplorer.core.fields import FieldError

    if not 0 < args.port < 65536:
        raise FieldError("port", f"must be between 1 and 65535, got {args.port}")
    host = args.host or ("0.0.0.0" if args.share else DEFAULT_HOST)
    env = {k: v for k, v in os.environ.items() if k not in (SHARE_ENV, TOKEN_ENV)}
    if args.share:
        token = teacher_token()
        env.update({SHARE_ENV: "1", TOKEN_ENV: token})
        base = f"http://{reachable_address(host)}:{args.port}/"
        print(f"Class session on {host}:{args.port}", file=args.out, flush=True)
        print(f"  class link (view only):  {base}", file=args.out, flush=True)
        print(f"  teacher link (actions):  {base}?token={token}", file=args.out, flush=True)
        print(
            "  Keep the teacher link to yourself; the token leaves the address bar once the page reads it.",
            file=args.out,
            flush=True,
        )
    cmd = streamlit_command(host, args.port, args.dev, args.unknown, share=args.share)
    if os.name == "posix":
        os.execve(cmd[0], cmd, env)  # Streamlit becomes this process: Ctrl+C and signals reach it directly
    return subprocess.call(cmd, env=env)
