"""The hostile-input table: thousands of malformed `lrexplorer` invocations and how each command ended.

Every value-taking flag of `schedule`, `memory`, `train` (with --check: validation, source and folder
checks, nothing starts), the cluster-export flags of `train --export` (each export really written),
`lr-find`, `sweep` and `knowledge` (with --check), every `runs` action, and the destination of `runs
export` and `runs merge` (a real LoRA run merged into each) gets each of the hostile values of
tests/helpers/hostile.py (empty, blank, nan, inf, huge, negative, wrong type, broken JSON, a NUL byte, a
path outside the runs folder, 400 digits). Each invocation runs `lrexplorer.cli.main` in this process, in a
scratch folder whose every file is compared before and after: a refused command must change none, an
accepted one only files inside a folder it created. Prints per command: rejected naming the flag (exit 2),
accepted (exit 0), traceback, changed a file outside its new folder (or any file, when refused), other
(another exit, or a refusal that does not name the flag); then each of the last three. The target is zero
in each of them.

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

from helpers.hostile import SPACE_YAML, cases, run_one
from helpers.run_folders import make_lora_run, make_run

KINDS = ("rejected", "accepted", "traceback", "wrote outside", "other")


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)  # whatever a command writes by a relative path lands in here
        make_run(root / "runs")
        make_lora_run(root / "runs", "lora")
        (root / "space.yaml").write_text(SPACE_YAML, encoding="utf-8")
        table = list(cases(str(root / "runs"), lora_id="lora", space=str(root / "space.yaml")))
        counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        odd = []
        started = time.perf_counter()
        for case in table:
            # each command in a working folder of its own: a folder one command made does not decide another's case
            cwd = root / case.command.replace(" ", "").replace("-", "")
            cwd.mkdir(exist_ok=True)
            os.chdir(cwd)
            outcome = run_one(case, root)
            counts[case.command][outcome.kind] += 1
            if outcome.kind not in ("rejected", "accepted"):
                odd.append(outcome)
        seconds = time.perf_counter() - started
    print(f"{len(table)} invocations in {seconds:.1f} s\n")
    print(
        "| command | invocations | rejected, flag named (exit 2) | accepted (exit 0) | traceback "
        "| changed a file outside its new folder | other |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for command, c in sorted(counts.items()):
        print(f"| {command} | {sum(c.values())} | " + " | ".join(str(c[k]) for k in KINDS) + " |")
    total = sum(counts.values(), collections.Counter())
    print(f"| all | {sum(total.values())} | " + " | ".join(str(total[k]) for k in KINDS) + " |")
    for outcome in odd:
        print(f"\n{outcome.kind} {outcome.code}: {outcome.case.argv!r}\n{outcome.text[-600:]}")
    return 1 if any(total[k] for k in KINDS[2:]) else 0


if __name__ == "__main__":
    sys.exit(main())
