"""Where a command may write: one rule, one message, for every command that writes a folder.

`lrexplorer train` and `lr-find` (output_dir), `train --export`, `runs export`, `runs merge`,
`lrexplorer knowledge --output_dir` and `lrexplorer sweep --output_dir` each write a folder of their own: a
new folder, or an empty one, never the runs directory, a run's folder or a folder inside one (a knowledge
lab's folder counts as a run's: it has a status file too). The path is resolved first, symbolic links
included, a dangling one too (it is checked, and written, where it points), so a link cannot lead a write
into a run. `check_new_folder` writes nothing: a refused command changes no file. `new_folder` creates the
folder after the check and, when the writing fails, removes what it created.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from lrexplorer.core.fields import FieldError
from lrexplorer.runs.folder import store

ASK = "give a new or empty folder (a command writes only into a folder of its own)"


def check_new_folder(path: str | Path, field: str, root: str | Path | None = None) -> Path:
    """`path` resolved, when a command may write into it; FieldError naming `field` (with the same words for
    every command) otherwise. `root` is the runs directory (default: $LRX_RUNS_DIR or ./runs)."""
    try:
        target = Path(path).expanduser().resolve()  # not strict: a dangling link resolves to its target
        why = _why_not(target, store.runs_dir(root).resolve())
    except (OSError, ValueError, RuntimeError) as exc:  # too long a name, a NUL byte, a loop of links
        why = f"cannot be used ({getattr(exc, 'strerror', None) or exc})"
    if why is not None:
        raise FieldError(field, f"{str(path)[:200]!r} {why}; {ASK}")
    return target


def _why_not(target: Path, runs: Path) -> str | None:
    if target == runs:
        return "is the runs directory"
    for folder in (target, *target.parents):
        if store.is_run(folder):
            return "is a run's folder" if folder == target else f"is inside the run folder {folder}"
    if target.exists() or target.is_symlink():
        if not target.is_dir():
            return "exists and is not a folder"
        if any(target.iterdir()):
            return "is a folder that is not empty"
    return None


@contextlib.contextmanager
def new_folder(path: str | Path, field: str, root: str | Path | None = None) -> Iterator[Path]:
    """Check `path` (`check_new_folder`), create it, and yield it; when the body raises, everything this
    created (the folder and any parents it had to make) is removed again, and the error goes on."""
    target = check_new_folder(path, field, root)
    first_new = next((p for p in reversed((target, *target.parents)) if not p.exists()), None)
    try:
        target.mkdir(parents=True, exist_ok=True)
        if first_new is None and any(target.iterdir()):  # filled between the check and now
            raise FieldError(field, f"{str(path)[:200]!r} is a folder that is not empty; {ASK}")
    except OSError as exc:
        raise FieldError(field, f"{str(path)[:200]!r} cannot be created ({exc.strerror or exc}); {ASK}") from None
    try:
        yield target
    except BaseException:
        if first_new is not None:
            shutil.rmtree(first_new, ignore_errors=True)
        else:  # an empty folder given by the user: empty it again, keep it
            for child in target.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        raise
