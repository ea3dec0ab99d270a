"""lrexplorer's version: the installed distribution's, or, in a source checkout used without installing it
(PYTHONPATH=.), the one its pyproject.toml declares."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version

from lrexplorer.core.resources import SOURCE_ROOT


def _version() -> str:
    try:
        return version("lrexplorer")
    except PackageNotFoundError:
        pass
    try:
        text = (SOURCE_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return "0+unknown"
    found = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return found.group(1) if found else "0+unknown"


__version__ = _version()
