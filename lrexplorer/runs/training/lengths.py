"""Token counts of a dataset's training rows, with the run's tokenizer, as TRL's SFTTrainer makes them.

The Train page draws their histogram and the pre-flight pads its estimate to the longest of them
instead of assuming rows of max_length. Cheap on purpose: a JSONL train file (built-in or local) is
read and at most `SAMPLE_ROWS` rows spread evenly over it are tokenised; other sources (the Hub, CSV,
Parquet, a stream) are not read here and the estimate keeps full-length rows.

Counts follow TRL's dataset preparation: a conversation goes through the chat template, a
prompt/completion pair is tokenised whole, plain text gets the EOS token appended when it lacks it;
truncation to max_length happens later (the estimate takes the smaller of the two).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from lrexplorer.catalogues import builtin
from lrexplorer.core.documents import load_json

SAMPLE_ROWS = 2000


@dataclass(frozen=True)
class DatasetLengths:
    tokens: tuple[int, ...]  # one count per sampled row, in file order
    total_rows: int

    @property
    def longest(self) -> int:
        return max(self.tokens)

    @property
    def sampled(self) -> bool:
        return len(self.tokens) < self.total_rows

    def describe(self) -> str:
        rows = f"{len(self.tokens):,} of {self.total_rows:,} rows, evenly spread" if self.sampled else "every row"
        return f"the longest example in the dataset ({self.longest:,} tokens, {rows})"


def train_file(values: dict[str, Any]) -> str | None:
    """The JSONL file of the run's training split, when it has one that can be read cheaply."""
    ref = values["dataset"]
    if values.get("dataset_streaming"):
        return None
    if builtin.is_builtin(ref):
        return builtin.dataset_files(builtin.builtin_name(ref)).get("train")
    path = Path(ref).expanduser()
    return str(path) if path.suffix == ".jsonl" and path.is_file() else None


def dataset_lengths(values: dict[str, Any]) -> DatasetLengths | str:
    """The token counts of the run's training rows, or why they are not known (a sentence)."""
    path = train_file(values)
    if path is None:
        return "only a built-in or local JSONL dataset is measured here"
    try:
        return _lengths(values["model"], bool(values.get("trust_remote_code")), path, os.stat(path).st_mtime_ns)
    except Exception as exc:  # noqa: BLE001 - a histogram is advice: say why it is missing, never fail the form
        return f"cannot count the dataset's tokens ({type(exc).__name__}: {exc})"


@lru_cache(maxsize=16)
def _lengths(model: str, trust_remote_code: bool, path: str, mtime_ns: int) -> DatasetLengths:
    # mtime_ns is part of the cache key only: an edited file is counted again.
    from lrexplorer.runs.training.sources import load_tokenizer

    tokenizer = load_tokenizer({"model": model, "trust_remote_code": trust_remote_code})
    with open(path, encoding="utf-8") as fh:
        lines = [line for line in fh if line.strip()]
    if not lines:
        raise ValueError(f"{path} holds no rows")
    step = max(1, -(-len(lines) // SAMPLE_ROWS))  # ceil: at most SAMPLE_ROWS rows
    tokens = tuple(row_tokens(load_json(line, None), tokenizer) for line in lines[::step])
    return DatasetLengths(tokens, len(lines))


def _ids(encoded: Any) -> list[int]:
    """input_ids of what a tokenizer call or apply_chat_template returned (a list or a BatchEncoding)."""
    return list(encoded["input_ids"] if isinstance(encoded, dict) or hasattr(encoded, "keys") else encoded)


def row_tokens(row: dict[str, Any], tokenizer: Any) -> int:
    """Tokens in one training row before truncation, as TRL's SFTTrainer tokenises it."""
    if "messages" in row:
        return len(_ids(tokenizer.apply_chat_template(row["messages"], tokenize=True)))
    if "prompt" in row and "completion" in row:
        if isinstance(row["prompt"], list):
            return len(_ids(tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=True)))
        return len(_ids(tokenizer(_with_eos(row["prompt"] + row["completion"], tokenizer), verbose=False)))
    return len(_ids(tokenizer(_with_eos(row["text"], tokenizer), verbose=False)))


def _with_eos(text: str, tokenizer: Any) -> str:
    eos = tokenizer.eos_token
    return text if not eos or text.endswith(eos) else text + eos
