"""Cheap looks at a local data file or model folder before a run starts: the first rows of the data, the
model's config.json and the headers of its safetensors files. Each finding is one sentence naming the
file and what is wrong, so a bad upload is refused by the form or the CLI instead of failing minutes
later in the worker with a library's own error. Nothing heavy is imported here."""

from __future__ import annotations

import csv
import json
import struct
from pathlib import Path
from typing import Any

from lrexplorer.core.documents import DocumentError, load_json, read_text

PROBE_ROWS = 50  # rows read from the start of a data file: enough to catch a wrong format, instantly
PROBE_BYTES = 1 << 20
SFT_COLUMNS = "SFT needs `messages` (chat), `text`, or `prompt` and `completion`"


def column_problem(columns: Any, name: str) -> str | None:
    cols = set(columns)
    if {"messages"} <= cols or {"text"} <= cols or {"prompt", "completion"} <= cols:
        return None
    return f"{name} has columns {sorted(cols)}; {SFT_COLUMNS}"


def data_file_problem(path: Path) -> str | None:
    """What is wrong with the start of a JSONL / JSON / CSV / Parquet data file, or None."""
    name = path.name
    try:
        if path.stat().st_size == 0:
            return f"{name} is empty"
        if path.suffix == ".parquet":
            return _parquet_problem(path)
        with path.open("rb") as fh:
            head = fh.read(PROBE_BYTES)
    except OSError as exc:
        return f"cannot read {name}: {exc.strerror}"
    if b"\0" in head:
        return f"{name} is not text (it holds binary data); give JSON lines, CSV or Parquet"
    text = head.decode("utf-8", errors="ignore")
    if not text.strip():
        return f"{name} is empty (only blank lines)"
    if path.suffix == ".csv":
        return column_problem(next(csv.reader(text.splitlines())), name)
    return _json_rows_problem(path, text, len(head) == PROBE_BYTES)


def _parquet_problem(path: Path) -> str | None:
    import pyarrow.parquet as pq

    try:
        schema = pq.ParquetFile(path).schema_arrow
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        return f"{path.name} is not a readable Parquet file ({type(exc).__name__})"
    return column_problem(schema.names, path.name)


def _json_rows_problem(path: Path, text: str, cut: bool) -> str | None:
    name = path.name
    whole = _whole_json(text) if text.lstrip().startswith("[") and not cut else None
    if isinstance(whole, list):  # one JSON array of rows
        numbered = list(enumerate(whole[:PROBE_ROWS], 1))
    else:  # JSON lines
        lines = [(i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
        if cut:
            lines = lines[:-1]  # the last line read may be cut mid-row
        numbered = []
        for i, line in lines[:PROBE_ROWS]:
            try:
                numbered.append((i, load_json(line, None)))
            except DocumentError as exc:
                return f"{name} line {i} is {exc}; each line must be one JSON object"
    if not numbered:
        return f"{name} holds no rows"
    for i, row in numbered:
        problem = _row_problem(row)
        if problem:
            return f"{name} row {i}: {problem}"
    return column_problem(numbered[0][1], name)


def _whole_json(text: str) -> Any:
    try:
        return load_json(text, None)
    except DocumentError:
        return None


def _row_problem(row: Any) -> str | None:
    if not isinstance(row, dict):
        return f"must be a JSON object with a `messages` column, got {type(row).__name__}"
    if "messages" not in row:
        return None  # the columns check names what is there
    messages = row["messages"]
    if not isinstance(messages, list) or not messages:
        return f"`messages` must be a list of {{role, content}} objects, got {type(messages).__name__}"
    for turn in messages:
        if not (isinstance(turn, dict) and isinstance(turn.get("role"), str) and "content" in turn):
            return f"`messages` must be a list of {{role, content}} objects; found {json.dumps(turn)[:80]}"
    return None


def model_folder_problem(folder: Path) -> str | None:
    """What is wrong with a model folder's config.json or its safetensors headers, or None."""
    config_path = folder / "config.json"
    try:
        config = load_json(read_text(config_path))
    except DocumentError as exc:
        return f"{config_path}: {exc}"
    if not isinstance(config, dict):
        return f"{config_path} must be a JSON object, got {type(config).__name__}"
    if "model_type" not in config:
        return f"{config_path} has no model_type, so transformers cannot tell which architecture it is"
    for weights in sorted(folder.glob("*.safetensors")):
        problem = safetensors_problem(weights)
        if problem:
            return problem
    return None


def safetensors_problem(path: Path) -> str | None:
    """The safetensors format: an 8-byte little-endian header length, a JSON header, then the data."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            raw = fh.read(8)
            length = struct.unpack("<Q", raw)[0] if len(raw) == 8 else None
            header = load_json(fh.read(length), None) if length is not None and 8 + length <= size else None
    except (OSError, ValueError) as exc:
        return f"{path} is not a readable safetensors file ({type(exc).__name__})"
    if length is None or not isinstance(header, dict):
        return f"{path} is not a readable safetensors file (truncated or damaged header)"
    end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__" and _offsets(t)), default=0)
    if 8 + length + end > size:
        return f"{path} is truncated: its header describes {end} bytes of tensors, the file holds fewer"
    return None


def _offsets(entry: Any) -> bool:
    offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
    return isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(x, int) for x in offsets)
