"""Streamlit stays inside the UI package: every engine module (and every figure builder) imports in a
process where streamlit cannot be imported at all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lrexplorer"

# A finder placed first on sys.meta_path: any attempt to import streamlit (or a submodule) fails there,
# even when streamlit is installed. The probe module proves the block works before anything is judged.
CHECK = """
import importlib, json, sys

class NoStreamlit:
    def find_spec(self, name, path=None, target=None):
        if name == "streamlit" or name.startswith("streamlit."):
            raise ImportError(f"streamlit is blocked in this process ({name})")
        return None

sys.meta_path.insert(0, NoStreamlit())
result = {"failed": {}, "probe": None}
try:
    importlib.import_module(PROBE)
except ImportError as exc:
    result["probe"] = str(exc)
for name in MODULES:
    try:
        importlib.import_module(name)
    except ImportError as exc:
        result["failed"][name] = str(exc)
result["streamlit_loaded"] = any(m == "streamlit" or m.startswith("streamlit.") for m in sys.modules)
print(json.dumps(result))
"""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def streamlit_free_modules() -> list[str]:
    """Everything in lrexplorer/ outside lrexplorer/app/, plus the UI package's figure builders.

    `__main__` modules run the command line when imported, so they are left out. The worker-side modules
    (runs.trainer, runs.callbacks, ...) load torch, transformers and TRL: that import is most of this test's time.
    """
    app = PACKAGE / "app"
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        inside_app = app in path.parents
        if path.stem == "__main__" or (
            inside_app and app / "figures" not in path.parents and path != app / "__init__.py"
        ):
            continue
        names.append(module_name(path))
    return names


def test_engine_modules_and_figures_import_without_streamlit():
    modules = streamlit_free_modules()
    # The list is built from the files: it must hold the engines and the figure builders it is meant to check.
    for expected in (
        "lrexplorer.schedules",
        "lrexplorer.memory.analytic.estimate",
        "lrexplorer.runs.launcher",
        "lrexplorer.runs.folder.feed",
    ):
        assert expected in modules
    assert any(m.startswith("lrexplorer.app.figures.") for m in modules)
    assert not any(m.startswith("lrexplorer.app.") and ".figures" not in m for m in modules)
    code = f"PROBE = 'streamlit.testing.v1'\nMODULES = {modules!r}\n{CHECK}"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, timeout=900
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["probe"] and "blocked" in result["probe"], "the finder did not block streamlit"
    assert result["failed"] == {}, "these modules need streamlit: " + json.dumps(result["failed"], indent=1)
    assert not result["streamlit_loaded"]


def test_the_ui_package_does_need_streamlit():
    """The other side of the line: the UI package's widgets do import streamlit (so the check above can
    tell the two apart)."""
    code = f"PROBE = 'lrexplorer.app.common.widgets'\nMODULES = []\n{CHECK}"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, timeout=900
    ).stdout
    assert "blocked" in (json.loads(out.strip().splitlines()[-1])["probe"] or "")
