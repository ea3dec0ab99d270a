"""Class sessions: the teacher's token in the URL makes a session the teacher's and leaves the URL at once; a
session without it (or with a wrong one) views only; without `--share` every session may act."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lrexplorer.core.resources import APP_SCRIPT

TOKEN = "the-teachers-token-0123456789"


def app(monkeypatch, tmp_path: Path, share: bool, token: str | None = None) -> AppTest:
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path))
    if share:
        monkeypatch.setenv("LRX_SHARE", "1")
        monkeypatch.setenv("LRX_TEACHER_TOKEN", TOKEN)
    else:
        monkeypatch.delenv("LRX_SHARE", raising=False)
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=120)
    if token is not None:
        at.query_params["token"] = token
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def notice(at: AppTest) -> bool:
    return any("View only" in i.value for i in at.sidebar.info)


def test_the_teachers_token_makes_the_teacher_and_leaves_the_url(monkeypatch, tmp_path):
    at = app(monkeypatch, tmp_path, share=True, token=TOKEN)
    assert at.session_state["lrx.role"] == "teacher" and not notice(at)
    assert "token" not in at.query_params
    at.run()  # later reruns keep the role without the token
    assert at.session_state["lrx.role"] == "teacher"


@pytest.mark.parametrize("token", [None, "", "the-teachers-token-012345678", TOKEN + "x"])
def test_no_token_or_a_wrong_one_views_only(monkeypatch, tmp_path, token):
    at = app(monkeypatch, tmp_path, share=True, token=token)
    assert at.session_state["lrx.role"] == "viewer" and notice(at)
    assert "token" not in at.query_params


def test_without_share_every_session_acts(monkeypatch, tmp_path):
    at = app(monkeypatch, tmp_path, share=False)
    assert not notice(at)


def test_paths_answer_as_missing_ones_for_a_view_only_session():
    from lrexplorer.app.common.roles import looks_like_path

    for ref in ("/etc/passwd", "~/data.jsonl", "./model", "../x", "C:\\data", "data.jsonl", "a/b/c", "x.json"):
        assert looks_like_path(ref), ref
    for ref in ("builtin:tiny", "builtin:arithmetic", "SmolLM2-135M", "meta-llama/Llama-3.1-8B", "gpt2"):
        assert not looks_like_path(ref), ref
