"""The one reader of documents that come from users: YAML (run configs, a run folder's config.yaml, sweep
spaces) and JSON (fact lines, JSON flags such as lr_scheduler_kwargs).

A document is bounded before anything walks it: its size (`read_text`, `check_size`), its nesting depth
(checked while it is parsed, so a 100,000-deep `[[[...` never reaches a recursive function) and, for
YAML, its aliases: `*name` repeats a node by reference, so a few hundred bytes of nested aliases expand
to billions of nodes in whatever walks the result (a "billion laughs"). No configuration lrexplorer reads
needs them, so they are refused. Every problem is one `DocumentError` saying what and where ("not valid YAML (line 3,
...)"); callers put their file's name in front and turn it into a FieldError naming their field.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from lrexplorer.core.limits import MAX_DOCUMENT_BYTES, MAX_NESTING


class DocumentError(ValueError):
    """A document that cannot be read or used, in one line."""


def check_size(text: str | bytes, max_bytes: int = MAX_DOCUMENT_BYTES) -> None:
    size = len(text.encode("utf-8", errors="surrogatepass")) if isinstance(text, str) else len(text)
    if size > max_bytes:
        raise DocumentError(f"too large: {size:,} bytes, at most {max_bytes:,} are read")


def read_text(path: str | Path, max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    """The UTF-8 text of the file at `path`, of at most `max_bytes` bytes (a larger file is refused unread).
    A pipe or a device is refused before it is opened: opening a FIFO waits for a writer that may never come."""
    mode = stat.S_IFREG
    with contextlib.suppress(OSError, ValueError):  # a missing file or a NUL byte: open() below says which
        mode = os.stat(path).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise DocumentError("cannot be read (not a regular file: a pipe or a device is never read)")
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise DocumentError(f"cannot be read ({exc.strerror or exc})") from None
    except ValueError:  # a NUL byte in the path
        raise DocumentError("cannot be read (the path holds a NUL byte)") from None
    if len(data) > max_bytes:
        raise DocumentError(f"too large: more than {max_bytes:,} bytes, the most that is read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not UTF-8 text (byte {exc.start} is {data[exc.start : exc.start + 1]!r})") from None


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader (the pure-Python one: its composer can be extended) refusing aliases and
    nesting deeper than MAX_NESTING, as the nodes are composed."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise DocumentError(
                f"line {event.start_mark.line + 1}: uses the alias *{event.anchor}; aliases (and << merges) are not "
                "accepted: write the values out"
            )
        self._depth += 1
        if self._depth > MAX_NESTING:
            mark = self.peek_event().start_mark
            raise DocumentError(f"line {mark.line + 1}: nested more than {MAX_NESTING} levels deep")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml(text: str, max_bytes: int = MAX_DOCUMENT_BYTES) -> Any:
    """The YAML document `text` as Python values (safe tags only), size, depth and aliases bounded."""
    check_size(text, max_bytes)
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)  # yaml's own text spans several lines: keep one
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DocumentError(f"not valid YAML ({where}{problem})") from None
    except DocumentError:
        raise
    except (ValueError, OverflowError) as exc:  # an integer of thousands of digits, a date out of range
        raise DocumentError(f"a value cannot be read ({str(exc).splitlines()[0][:200]})") from None
    finally:
        loader.dispose()


def json_depth_problem(text: str) -> str | None:
    """Why `text` nests too deeply to be parsed, or None: counted over brackets outside strings, in one pass."""
    depth, in_string, escaped = 0, False, False
    for i, c in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return f"nested more than {MAX_NESTING} levels deep (at character {i})"
        elif c in "]}":
            depth -= 1
    return None


def load_json(text: str | bytes, max_bytes: int | None = MAX_DOCUMENT_BYTES) -> Any:
    """The JSON value `text`, size and depth bounded before it is parsed (`max_bytes` None: the caller has
    bounded what it read, a data file's row or a model's config.json)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DocumentError(f"not UTF-8 text (byte {exc.start})") from None
    if max_bytes is not None:
        check_size(text, max_bytes)
    deep = json_depth_problem(text)
    if deep is not None:
        raise DocumentError(deep)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"not valid JSON ({exc.msg} at character {exc.pos})") from None
    except (ValueError, RecursionError) as exc:  # an integer of thousands of digits
        raise DocumentError(f"a value cannot be read ({str(exc)[:200]})") from None
