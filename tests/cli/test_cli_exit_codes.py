"""Exit statuses are named constants: the README's table lists exactly them, in the same words, and no command
returns a bare number."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from lrexplorer.cli.exit_codes import MEANING, Exit

ROOT = Path(__file__).resolve().parents[2]


def readme_table() -> list[tuple[int, str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Runs: ids, folders and exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \| (.+) \|$", section, flags=re.M)
    return [(int(code), name, meaning) for code, name, meaning in rows]


def test_the_readme_table_and_the_constants_agree():
    assert readme_table() == [(int(e), e.name, MEANING[e]) for e in Exit]


def test_no_command_returns_a_bare_number():
    bare = []
    for path in (ROOT / "lrexplorer" / "cli").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Return) or node.value is None:
                continue
            value = node.value
            parts = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
            bare += [
                f"{path.name}:{node.lineno}" for p in parts if isinstance(p, ast.Constant) and type(p.value) is int
            ]
    assert bare == []
