"""A sweep's folder: the marker that makes it one, and its Optuna database (``study.db``, SQLite).

The marker is written first, when a sweep starts in a new or empty folder (or when the Tune page prepares
one), so `lrexplorer sweep --output_dir` can tell a sweep's folder, to start in or resume, from any other
folder, which it does not write into. The database is checked before Optuna opens it: a file that is not a
sweep's database is refused in one line, and left as it was.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lrexplorer.catalogues.params import FieldError

STUDY_FILE = "study.db"
MARKER = ".lrexplorer-sweep"
T = TypeVar("T")


def prepare_folder(folder: Path) -> None:
    """Make `folder` a sweep's folder (created if needed, with its marker); `is_sweep_folder` then holds."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / MARKER).touch()


def is_sweep_folder(folder: Path) -> bool:
    """Whether `folder` belongs to a sweep: prepared for one (its marker), or holding a sweep's study.db (a
    sweep from before markers); a study.db that is not a sweep's database does not make one."""
    if (Path(folder) / MARKER).is_file():
        return True
    try:
        check_database(Path(folder) / STUDY_FILE)
    except FieldError:
        return False
    return True


def check_database(path: Path) -> None:
    """FieldError (naming output_dir, the sweep's folder) unless `path` is an SQLite database with Optuna's
    tables. It is opened read-only: a file that is not one is left as it was."""
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(f"{Path(path).as_uri()}?mode=ro", uri=True)) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        raise FieldError("output_dir", f"{path} is not a sweep's database ({exc})") from None
    if "studies" not in tables:
        raise FieldError("output_dir", f"{path} is an SQLite database, but not a sweep's (it holds no Optuna study)")


def open_storage(path: Path) -> Any:
    """Optuna's storage over the database at `path`; a database Optuna cannot open is a FieldError."""
    import optuna

    return guarded(
        path, lambda: optuna.storages.RDBStorage(f"sqlite:///{path}", engine_kwargs={"creator": lambda: _connect(path)})
    )


def guarded(path: Path, read: Callable[[], T]) -> T:
    """`read()`, with a damaged database (SQLAlchemy's errors) said in one line naming the sweep's folder."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return read()
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
        raise FieldError("output_dir", f"{path} cannot be read as a sweep's database ({first})") from None


def _connect(path: Path) -> Any:
    """A SQLite connection in WAL mode with NORMAL sync: every reported loss is a commit, and a full
    sync per commit costs more than a short training step; a crash can lose the last reports, never
    the database. The trainer's process and the sweep's share the file, so wait for locks."""
    import sqlite3

    conn = sqlite3.connect(path, timeout=60, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn
