"""The hostile-input table: thousands of malformed `lrexplorer` invocations and how each command ended.

Every value-taking flag of `schedule`, `memory`, `train` (with --check: validation and source checks,
nothing starts) and every `runs` action gets each of the hostile values of tests/helpers/hostile.py
(empty, blank, nan, inf, huge, negative, wrong type, broken JSON, a NUL byte, a path outside the runs
folder, 400 digits). Each invocation runs `lrexplorer.cli.main` in this process, in a scratch folder.
Prints per command: rejected naming the flag (exit 2), accepted (exit 0), traceback, other; then every
traceback or other outcome. The target is zero tracebacks and zero others.

    python bench/hostile_inputs.py
"""

from __future__ import annotations

import collections
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the table and the run-folder writer live with the tests

from helpers.hostile import cases, run_one
from helpers.run_folders import make_run

KINDS = ("rejected", "accepted", "traceback", "other")


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)  # whatever a command writes by a relative path lands here
        make_run(Path(scratch) / "runs")
        table = list(cases(str(Path(scratch) / "runs")))
        counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        odd = []
        started = time.perf_counter()
        for case in table:
            outcome = run_one(case)
            counts[case.command][outcome.kind] += 1
            if outcome.kind in ("traceback", "other"):
                odd.append(outcome)
        seconds = time.perf_counter() - started
    print(f"{len(table)} invocations in {seconds:.1f} s\n")
    print("| command | invocations | rejected, flag named (exit 2) | accepted (exit 0) | traceback | other |")
    print("|---|---:|---:|---:|---:|---:|")
    for command, c in sorted(counts.items()):
        print(f"| {command} | {sum(c.values())} | " + " | ".join(str(c[k]) for k in KINDS) + " |")
    total = sum(counts.values(), collections.Counter())
    print(f"| all | {sum(total.values())} | " + " | ".join(str(total[k]) for k in KINDS) + " |")
    for outcome in odd:
        print(f"\n{outcome.kind} {outcome.code}: {outcome.case.argv!r}\n{outcome.text[-600:]}")
    return 1 if total["traceback"] else 0


if __name__ == "__main__":
    sys.exit(main())
