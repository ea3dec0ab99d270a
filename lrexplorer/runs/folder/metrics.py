"""metrics.jsonl, a run's log of Trainer records: one JSON object per line, appended a whole line at a time.

Read while the worker writes it, so a last line without its newline is left for the next read and a line
that is not a JSON object is skipped. `lrexplorer.runs.folder.store` re-exports everything here.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

METRICS = "metrics.jsonl"
TAIL_BYTES = 32_768  # the end of metrics.jsonl that holds the last records, without reading it all


def encode_record(record: dict[str, Any]) -> str:
    """One metrics line. JSON has no nan or inf, so non-finite numbers are written as the strings
    "nan", "inf", "-inf" (readers turn them back into floats)."""
    clean = {k: str(v) if isinstance(v, float) and not math.isfinite(v) else v for k, v in record.items()}
    return json.dumps(clean) + "\n"


def _records(data: bytes) -> list[dict[str, Any]]:
    """The JSON objects among the newline-separated lines of `data`; other lines are skipped."""
    out = []
    for line in data.split(b"\n"):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def read_metrics_from(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """(records, new offset): the complete records of the metrics file `path` from byte `offset` on.

    A last line without its newline is being written right now: it is left for the next read, which
    starts at the returned offset (just after the last newline)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1
    return _records(data[:end]), offset + end


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Every complete record of the run, oldest first."""
    return read_metrics_from(Path(run_dir) / METRICS)[0]


def tail_metrics(run_dir: Path, max_bytes: int = TAIL_BYTES) -> list[dict[str, Any]]:
    """The complete records in the last `max_bytes` of metrics.jsonl, oldest first."""
    try:
        with open(Path(run_dir) / METRICS, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except OSError:
        return []
    start = data.find(b"\n") + 1 if size > max_bytes else 0  # the seek cut the first line
    return _records(data[start : data.rfind(b"\n") + 1])


@dataclass(frozen=True)
class MetricsChunk:
    records: list[dict[str, Any]]  # complete records appended since the previous read
    restarted: bool  # the file was replaced, truncated or removed: `records` start from its beginning
    bytes_read: int


class MetricsReader:
    """metrics.jsonl read incrementally: each `read()` parses only the lines appended since the last.

    A resume replaces the file with the records up to its checkpoint; the reader notices (another
    inode, a shorter file, or no file) and starts over, saying so in `MetricsChunk.restarted`.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / METRICS
        self.offset = 0
        self._inode: int | None = None

    def read(self) -> MetricsChunk:
        try:
            info = os.stat(self.path)
        except OSError:
            restarted = self.offset > 0
            self.offset, self._inode = 0, None
            return MetricsChunk([], restarted, 0)
        restarted = (self._inode is not None and info.st_ino != self._inode) or info.st_size < self.offset
        if restarted:
            self.offset = 0
        self._inode = info.st_ino
        if info.st_size == self.offset:
            return MetricsChunk([], restarted, 0)
        records, end = read_metrics_from(self.path, self.offset)
        chunk = MetricsChunk(records, restarted, end - self.offset)
        self.offset = end
        return chunk


class MetricsWriter:
    """Appends records to a run's metrics.jsonl, each flushed as a whole line (readers skip a partial one)."""

    def __init__(self, run_dir: Path) -> None:
        self._fh: IO[str] = open(Path(run_dir) / METRICS, "a", encoding="utf-8")  # noqa: SIM115 - held for the run

    def write(self, record: dict[str, Any]) -> None:
        self._fh.write(encode_record(record))
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()
