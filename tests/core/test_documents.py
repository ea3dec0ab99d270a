"""Documents from users (YAML configs and spaces, JSON flags, fact lines) are bounded before anything walks
them: an alias bomb, a document nested thousands deep or one too large is one DocumentError, at once, with
no MemoryError or RecursionError; and this is the one loader of YAML in the package."""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path

import pytest
import yaml

from lrexplorer.core.documents import DocumentError, load_json, load_yaml, read_text
from lrexplorer.core.limits import MAX_DOCUMENT_BYTES, MAX_NESTING

PACKAGE = Path(__file__).resolve().parents[2] / "lrexplorer"


def alias_bomb(levels: int = 9) -> str:
    """Ten references per level: 10**levels strings once expanded, from a few hundred bytes."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ",".join(f"*a{i - 1}" for _ in range(10)) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_expands():
    text = alias_bomb()
    assert len(text.encode()) < 600
    # The library's own safe loader builds the shared structure; walking it is what explodes (10**9 strings).
    shared = yaml.safe_load(alias_bomb(3))
    assert len(json.dumps(shared)) > 5_000
    started = time.perf_counter()
    with pytest.raises(DocumentError, match=r"line 2: uses the alias \*a0"):
        load_yaml(text)
    assert time.perf_counter() - started < 5  # not a timing benchmark: a bomb would take minutes and gigabytes


def test_merge_keys_need_aliases_and_are_refused_too():
    with pytest.raises(DocumentError, match="alias"):
        load_yaml("base: &b {learning_rate: 1.0e-3}\nrun:\n  <<: *b\n")


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 5_000, 100_000])
def test_deep_yaml_is_refused_without_recursion(depth):
    with pytest.raises(RecursionError):  # what the library's own safe loader does with it
        yaml.safe_load("[" * 100_000 + "]" * 100_000)
    for text in ("[" * depth + "]" * depth, "{a: " * depth + "1" + "}" * depth):
        with pytest.raises(DocumentError, match=f"nested more than {MAX_NESTING} levels"):
            load_yaml(text)


def test_deep_block_yaml_is_refused_too():
    depth = 200
    text = "".join(" " * i + f"k{i}:\n" for i in range(depth)) + " " * depth + "1\n"
    with pytest.raises(DocumentError, match=f"line 3[0-9]: nested more than {MAX_NESTING} levels"):
        load_yaml(text)


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 5_000, 100_000])
def test_deep_json_is_refused_before_it_is_parsed(depth):
    with pytest.raises(RecursionError):  # what the standard parser does with it
        json.loads("[" * 200_000 + "]" * 200_000)
    for text in ("[" * depth + "]" * depth, '{"a": ' * depth + "1" + "}" * depth):
        with pytest.raises(DocumentError, match=f"nested more than {MAX_NESTING} levels"):
            load_json(text)


def test_brackets_inside_strings_do_not_count_and_the_limit_itself_is_read():
    assert load_json(json.dumps({"a": "[[[[{{{{" * 100})) == {"a": "[[[[{{{{" * 100}
    deepest = "[" * MAX_NESTING + "]" * MAX_NESTING
    assert load_json(deepest) == json.loads(deepest)
    assert load_yaml(deepest) == yaml.safe_load(deepest)


def test_size_numbers_and_syntax_are_one_line_errors(tmp_path):
    with pytest.raises(DocumentError, match="too large"):
        load_yaml("a: 1\n" * (MAX_DOCUMENT_BYTES // 4))
    with pytest.raises(DocumentError, match="a value cannot be read"):
        load_yaml("a: " + "9" * 5000)  # past Python's limit on digits of an int
    with pytest.raises(DocumentError, match="a value cannot be read"):
        load_json("9" * 5000)
    with pytest.raises(DocumentError, match=r"not valid YAML \(line 1, column"):
        load_yaml("a: [1, 2")
    with pytest.raises(DocumentError, match=r"not valid JSON \(Expecting"):
        load_json('{"a":')
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    with pytest.raises(DocumentError, match="not UTF-8 text"):
        read_text(binary)
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.truncate(MAX_DOCUMENT_BYTES + 1)
    with pytest.raises(DocumentError, match="too large"):
        read_text(big)
    with pytest.raises(DocumentError, match="cannot be read"):
        read_text(tmp_path / "missing.yaml")
    with pytest.raises(DocumentError, match="cannot be read"):
        read_text("a\x00b")
    assert load_yaml("learning_rate: 1.0e-3\ntags: [a, b]\n") == {"learning_rate": 1e-3, "tags": ["a", "b"]}


def test_no_other_module_loads_yaml():
    """One loader: every YAML document lrexplorer reads goes through core/documents.py."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            loads = ("load", "safe_load", "full_load", "unsafe_load", "load_all", "safe_load_all")
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "yaml":
                found += [f"{path.relative_to(PACKAGE)}:{node.lineno}"] if node.attr in loads else []
    assert found == [], found


def test_a_pipe_is_refused_before_it_is_opened(tmp_path):
    import os
    import subprocess
    import sys

    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    # First through the command line, in a process of its own, so that a regression fails instead of hanging.
    cmd = [sys.executable, "-m", "lrexplorer", "train", "--check", "--config", str(fifo)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and "--config" in done.stderr and "not a regular file" in done.stderr, done.stderr
    with pytest.raises(DocumentError, match="not a regular file"):
        read_text(fifo)
