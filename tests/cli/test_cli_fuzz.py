"""Hostile values for every flag of every command (read from the real parser): never a traceback, a refusal is
exit 2 naming the flag and changes no file, and a success changes files only inside the folder it created.
train, lr-find, sweep and knowledge run with --check, so nothing is ever started; train --export (the
cluster flags), runs export and runs merge really write, each into a destination of its own."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from helpers.hostile import SPACE_YAML, cases, run_one
from helpers.run_folders import make_lora_run, make_run

# A spread of the full table (bench/hostile_inputs.py runs all of it): the suite stays fast.
VALUES = ("", "nan", "-inf", "-1", "1e23", "99999999999999999999", "abc", '{"a":', "\x00", "9" * 400)


def _groups(runs_dir: str, space: str) -> dict[tuple[str, str], list]:
    table = cases(runs_dir, values=VALUES, lora_id="lora", space=space)
    ordered = sorted(table, key=lambda c: (c.command, c.flag))
    return {k: list(v) for k, v in itertools.groupby(ordered, key=lambda c: (c.command, c.flag))}


COMMAND_FLAGS = sorted(_groups("runs", "space.yaml"))


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    make_run(root / "runs")
    (root / "space.yaml").write_text(SPACE_YAML, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def lora(world) -> Path:
    return make_lora_run(world / "runs", "lora")


@pytest.mark.parametrize("command, flag", COMMAND_FLAGS, ids=[f"{c}{f}" for c, f in COMMAND_FLAGS])
def test_hostile_values_end_in_a_named_refusal_or_a_plain_success(command, flag, world, request, monkeypatch):
    if command == "runs merge" or (command, flag) == ("runs", "--dtype"):
        request.getfixturevalue("lora")
    cwd = world / f"{command}{flag}".replace(" ", "").replace("-", "")
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # anything a command writes by a relative path lands here
    bad = []
    for case in _groups(str(world / "runs"), str(world / "space.yaml"))[(command, flag)]:
        outcome = run_one(case, world)
        if outcome.kind not in ("rejected", "accepted"):
            bad.append(f"{case.argv!r} -> {outcome.kind} {outcome.code}: {outcome.text[-400:]}")
    assert not bad, "\n".join(bad)
