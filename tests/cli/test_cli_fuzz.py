"""Hostile values for every flag of every command (read from the real parser): never a traceback, and a
refusal is exit 2 naming the flag. `train` runs with --check, so nothing is ever started."""

from __future__ import annotations

import itertools

import pytest
from helpers.hostile import cases, run_one
from helpers.run_folders import make_run

# A spread of the full table (bench/hostile_inputs.py runs all of it): the suite stays fast.
VALUES = ("", "nan", "-inf", "-1", "1e23", "99999999999999999999", "abc", '{"a":', "\x00", "9" * 400)


def _groups(runs_dir: str) -> dict[tuple[str, str], list]:
    ordered = sorted(cases(runs_dir, values=VALUES), key=lambda c: (c.command, c.flag))
    return {k: list(v) for k, v in itertools.groupby(ordered, key=lambda c: (c.command, c.flag))}


COMMAND_FLAGS = sorted(_groups("runs"))


@pytest.mark.parametrize("command, flag", COMMAND_FLAGS, ids=[f"{c}{f}" for c, f in COMMAND_FLAGS])
def test_hostile_values_end_in_a_named_refusal_or_a_plain_success(command, flag, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything a command writes by a relative path lands here
    runs = tmp_path / "runs"
    make_run(runs)
    bad = []
    for case in _groups(str(runs))[(command, flag)]:
        outcome = run_one(case)
        if outcome.kind not in ("rejected", "accepted"):
            bad.append(f"{case.argv!r} -> {outcome.kind} {outcome.code}: {outcome.text[-400:]}")
    assert not bad, "\n".join(bad)
