"""The files that ship inside the package: the built-in tokenizer and datasets, the knowledge lab's model
and facts, the model presets and the GPU catalogue (`assets/`), and the app's Streamlit scripts.

They are found through `importlib.resources`, so an installed wheel works from any folder, without a clone.
A wheel is always unpacked on disk, so the result is a plain `Path` that the loaders (transformers,
datasets) can read.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PACKAGE = Path(str(files("lrexplorer")))
# The folder holding the package: a source checkout's root (with pyproject.toml), or site-packages.
SOURCE_ROOT = PACKAGE.parent
ASSETS = PACKAGE / "assets"
APP_SCRIPT = PACKAGE / "app" / "main.py"
