"""`lrexplorer app`: the Streamlit command it builds (read back by Streamlit's own option parser), and a real
server started from an empty folder, listening on 127.0.0.1 only."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from streamlit.web import cli as streamlit_cli

from lrexplorer.cli import main
from lrexplorer.cli.app import streamlit_command
from lrexplorer.core.resources import APP_SCRIPT

ROOT = Path(__file__).resolve().parents[2]


def parsed(cmd: list[str]) -> dict[str, Any]:
    """The options Streamlit's `run` command reads from `cmd` (an unknown option name fails here)."""
    ctx = streamlit_cli.main_run.make_context("run", cmd[cmd.index("run") + 1 :])
    return {k: v for k, v in ctx.params.items() if v not in (None, ())}


def test_shipped_settings_watch_no_files_and_listen_locally():
    # Watching the app's folder meant watching runs/: a training run's checkpoint writes overflowed the
    # watcher and took CPU from the run. --dev turns watching back on for development.
    options = parsed(streamlit_command("127.0.0.1", 8501))
    assert options["target"] == str(APP_SCRIPT) and Path(options["target"]).is_file()
    assert options["server_fileWatcherType"] == "none" and "server_runOnSave" not in options
    assert options["server_address"] == "127.0.0.1" and options["server_port"] == 8501
    assert options["browser_gatherUsageStats"] is False and options["runner_postScriptGC"] is False
    dev = parsed(streamlit_command("127.0.0.1", 8501, dev=True))
    assert dev["server_fileWatcherType"] == "auto" and dev["server_runOnSave"] is True


def test_the_users_streamlit_options_come_last_and_win():
    cmd = streamlit_command("127.0.0.1", 8501, extra=["--server.headless", "true", "--theme.base", "dark"])
    options = parsed(cmd)
    assert options["server_headless"] is True and options["theme_base"] == "dark"


def test_bad_port_and_unknown_options_elsewhere_are_refused(capsys):
    assert main(["app", "--port", "70000"]) == 2
    assert "--port: must be between 1 and 65535" in capsys.readouterr().err
    assert main(["schedule", "--server.headless", "true"]) == 2  # only `app` passes options on
    assert "unrecognized arguments" in capsys.readouterr().err


def _other_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # no packet is sent: this only picks the outgoing interface
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.mark.slow
def test_lrexplorer_app_serves_from_an_empty_folder_on_loopback_only(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "app.log"
    cwd = tmp_path / "empty"
    cwd.mkdir()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lrexplorer", "app", "--port", str(port), "--server.headless", "true"],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        other = _other_address()
        if other is not None:  # the same port on the machine's network address: nobody listens there
            with pytest.raises(OSError), socket.create_connection((other, port), timeout=2):
                pass
        assert f"URL: http://127.0.0.1:{port}" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def recording_exec(started: dict) -> Any:
    """Stands in for os.execve: records the command and environment Streamlit would get, then stops."""

    def execve(path, argv, env):
        started.update(argv=argv, env=env)
        raise SystemExit(0)

    return execve


def test_share_listens_everywhere_and_hands_the_app_a_token(monkeypatch, capsys):
    """`--share` without --host listens on every interface, with tracebacks hidden from the class; the app gets
    the class mode and the token through its environment, and the two links are printed."""
    from lrexplorer.cli import app as cli_app

    started: dict = {}
    monkeypatch.setattr(cli_app.os, "execve", recording_exec(started))
    monkeypatch.delenv("LRX_TEACHER_TOKEN", raising=False)
    with pytest.raises(SystemExit):
        main(["app", "--share", "--port", "8600"])
    options = parsed(started["argv"])
    assert options["server_address"] == "0.0.0.0" and options["client_showErrorDetails"] == "none"
    token = started["env"]["LRX_TEACHER_TOKEN"]
    assert started["env"]["LRX_SHARE"] == "1" and len(token) >= 16
    out = capsys.readouterr().out
    assert f":8600/?token={token}" in out and "class link" in out
    with pytest.raises(SystemExit):
        main(["app", "--share", "--port", "8600"])
    assert started["env"]["LRX_TEACHER_TOKEN"] != token  # a new token at every start


def test_share_takes_the_teachers_own_token_and_refuses_a_bad_one(monkeypatch, capsys):
    from lrexplorer.cli import app as cli_app

    started: dict = {}
    monkeypatch.setattr(cli_app.os, "execve", recording_exec(started))
    monkeypatch.setenv("LRX_TEACHER_TOKEN", "a-token-of-my-own-1234")
    with pytest.raises(SystemExit):
        main(["app", "--share", "--host", "127.0.0.1"])
    assert started["env"]["LRX_TEACHER_TOKEN"] == "a-token-of-my-own-1234"
    monkeypatch.setenv("LRX_TEACHER_TOKEN", "short")
    assert main(["app", "--share"]) == 2
    assert "LRX_TEACHER_TOKEN" in capsys.readouterr().err


def test_without_share_no_class_mode_reaches_the_app(monkeypatch):
    from lrexplorer.cli import app as cli_app

    started: dict = {}
    monkeypatch.setattr(cli_app.os, "execve", recording_exec(started))
    monkeypatch.setenv("LRX_SHARE", "1")  # left over in the shell: ignored without --share
    with pytest.raises(SystemExit):
        main(["app"])
    assert "LRX_SHARE" not in started["env"] and "LRX_TEACHER_TOKEN" not in started["env"]
    assert parsed(started["argv"])["server_address"] == "127.0.0.1"
