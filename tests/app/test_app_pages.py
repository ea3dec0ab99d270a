"""The page registry: the main script navigates over exactly its pages, links and switches go through it, and a
page run on its own still gets working plain links."""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from lrexplorer.app.pages import PAGES

ROOT = Path(__file__).resolve().parents[2]
TITLES = {
    "schedules": "Learning-rate schedules",
    "memory": "Memory",
    "train": "Train",
    "tune": "Tune",
    "knowledge": "Knowledge lab",
    "runs": "Runs",
    "guide": "Guide",
}


def test_every_registered_page_is_a_script_in_page_scripts():
    scripts = sorted(p.script for p in PAGES.values())
    folder = ROOT / "lrexplorer" / "app" / "page_scripts"
    assert scripts == sorted(f"page_scripts/{f.name}" for f in folder.glob("*.py") if f.name != "__init__.py")
    assert [p.key for p in PAGES.values() if p.default] == ["schedules"]


def test_the_app_opens_every_registered_page(tmp_path, monkeypatch):
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "main.py"), default_timeout=120).run()
    assert not at.exception and at.title[0].value == TITLES["schedules"]
    for key, page in PAGES.items():
        at.switch_page(page.script).run()
        assert not at.exception, (key, [e.value for e in at.exception])
        assert at.title[0].value == TITLES[key]


def test_links_inside_the_app_carry_the_registry_url_and_query(tmp_path, monkeypatch):
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path))  # no runs: the Runs page links to Train
    at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "main.py"), default_timeout=120).run()
    at.switch_page(PAGES["runs"].script).run()
    links = [(e.proto.page, e.proto.label) for e in at.get("page_link")]
    assert links == [("train", "Go to Train")]
    assert not any("](/train" in m.value for m in at.markdown)


def test_a_page_run_on_its_own_falls_back_to_plain_links():
    def script() -> None:

        from lrexplorer.app import pages

        pages.page_link("train", "Open the run", icon=":material/monitoring:", query_params={"run": "a b"})
        pages.page_link("memory", "Memory")

    at = AppTest.from_function(script, default_timeout=60).run()
    assert not at.exception
    assert not at.get("page_link")
    texts = [m.value for m in at.markdown]
    assert ":material/monitoring: [Open the run](/train?run=a+b)" in texts
    assert "[Memory](/memory)" in texts


def test_only_the_registry_names_page_scripts():
    """Pages are named by registry key everywhere else, so a renamed script is one edit."""
    offenders = []
    for path in (ROOT / "lrexplorer").rglob("*.py"):
        if path == ROOT / "lrexplorer" / "app" / "pages.py":
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"page_scripts/\w+\.py", line):
                offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert offenders == []
