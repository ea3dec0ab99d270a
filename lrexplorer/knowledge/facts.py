"""The lab's fact set: one JSON object per line, loaded and checked field by field.

Fields of a line: `fact` (the statement the retriever indexes), `paraphrases` (statements of the same
fact used for fine-tuning, at least one), `questions` (test phrasings, at least one), `answer`, and
`candidates` (the choices scored, the answer among them). `entity` and `relation` are optional labels.
A mistake is reported with its line number and field name. A file is bounded before it is parsed: its size,
the number of facts, the length of every text and list (core/limits.py), and each line's JSON (core/documents).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lrexplorer.core.documents import DocumentError, check_size, load_json, read_text
from lrexplorer.core.limits import MAX_FACT_CHARS, MAX_FACT_FILE_BYTES, MAX_FACT_ITEMS, MAX_FACTS
from lrexplorer.knowledge.assets import FACTS_FILE

REQUIRED = ("fact", "paraphrases", "questions", "answer", "candidates")
OPTIONAL = ("entity", "relation")


class FactFileError(ValueError):
    """A fact file that cannot be used; `field` and `line` say where."""

    def __init__(self, message: str, field: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.line = line


@dataclass(frozen=True)
class Fact:
    fact: str
    paraphrases: tuple[str, ...]
    questions: tuple[str, ...]
    answer: str
    candidates: tuple[str, ...]
    entity: str = ""
    relation: str = ""


def load_facts(path: Path | str = FACTS_FILE) -> list[Fact]:
    path = Path(path)
    try:
        text = read_text(path, MAX_FACT_FILE_BYTES)
    except DocumentError as exc:
        raise FactFileError(f"fact file {str(path)[:200]}: {exc}", "facts") from None
    return parse_text(text, path.name)


def parse_text(text: str, name: str = "facts") -> list[Fact]:
    """The facts of a fact file's text (`name` appears in the messages). Lines end at "\n" (and "\r\n")
    only: JSON strings may hold U+2028 and other characters `str.splitlines` would also break at."""
    try:
        check_size(text, MAX_FACT_FILE_BYTES)
    except DocumentError as exc:
        raise FactFileError(f"{name}: {exc}", "facts") from None
    lines = [(number, line) for number, line in enumerate(text.split("\n"), 1) if line.strip()]
    if len(lines) > MAX_FACTS:
        raise FactFileError(f"{name}: {len(lines):,} facts; at most {MAX_FACTS:,} are read", "facts")
    facts = [parse_line(line.removesuffix("\r"), number, name) for number, line in lines]
    if not facts:
        raise FactFileError(f"{name}: no facts (expected one JSON object per line)", "facts")
    return facts


def parse_line(line: str, number: int, name: str = "facts") -> Fact:
    where = f"{name} line {number}"
    try:
        row = load_json(line)
    except DocumentError as exc:
        raise FactFileError(f"{where}: {exc}", None, number) from None
    if not isinstance(row, dict):
        raise FactFileError(f"{where}: expected a JSON object with fields {', '.join(REQUIRED)}", None, number)
    for field in REQUIRED:
        if field not in row:
            raise FactFileError(f"{where}: field '{field}' is missing", field, number)
    unknown = sorted(set(row) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        allowed = ", ".join(REQUIRED + OPTIONAL)
        raise FactFileError(f"{where}: unknown field '{unknown[0]}' (allowed: {allowed})", unknown[0], number)
    for field in ("fact", "answer", *(f for f in OPTIONAL if f in row)):
        _text(row[field], field, where, number)
    lists = {f: _texts(row[f], f, where, number) for f in ("paraphrases", "questions", "candidates")}
    if len(lists["candidates"]) < 2:
        raise FactFileError(f"{where}: field 'candidates' needs at least 2 choices", "candidates", number)
    if len(set(lists["candidates"])) != len(lists["candidates"]):
        raise FactFileError(f"{where}: field 'candidates' repeats a choice", "candidates", number)
    if row["answer"] not in lists["candidates"]:
        raise FactFileError(
            f"{where}: field 'answer' ({row['answer']!r}) is not one of the candidates", "answer", number
        )
    return Fact(
        row["fact"],
        lists["paraphrases"],
        lists["questions"],
        row["answer"],
        lists["candidates"],
        row.get("entity", ""),
        row.get("relation", ""),
    )


def _text(value: object, field: str, where: str, number: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FactFileError(f"{where}: field '{field}' must be a non-empty string", field, number)
    if len(value) > MAX_FACT_CHARS:
        raise FactFileError(
            f"{where}: field '{field}' holds {len(value):,} characters; at most {MAX_FACT_CHARS:,}", field, number
        )
    return value


def _texts(value: object, field: str, where: str, number: int) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise FactFileError(f"{where}: field '{field}' must be a non-empty list of strings", field, number)
    if len(value) > MAX_FACT_ITEMS:
        raise FactFileError(
            f"{where}: field '{field}' lists {len(value)} texts; at most {MAX_FACT_ITEMS}", field, number
        )
    for item in value:
        _text(item, field, where, number)
    return tuple(value)


def max_paraphrases(facts: list[Fact]) -> int:
    """K: the largest paraphrase count every fact can supply."""
    return min(len(f.paraphrases) for f in facts)
