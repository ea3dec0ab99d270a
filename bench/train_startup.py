"""Time from launching a run to its first metrics record, on the built-in model.

    python bench/train_startup.py [--runs 3]

Each run is started with `launcher.start_run` (what the Train page and `lrexplorer train` call) with
lrexplorer's defaults plus max_steps; the clock starts before the call and stops when metrics.jsonl
holds its first complete record (the log of optimizer step 1). Also printed: when the worker reported
`running` (device lock held) and when the trainer was built. Target: at most 10 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TARGET_S = 10.0


def one_run() -> dict[str, float]:
    from lrexplorer.runs import launcher
    from lrexplorer.runs.folder import store
    from lrexplorer.runs.spec import RunSpec

    with tempfile.TemporaryDirectory() as root:
        os.environ["LRX_LOCK_DIR"] = os.path.join(root, "locks")
        start = time.monotonic()
        run_dir = launcher.start_run(RunSpec.from_dict({"max_steps": 20}), Path(root) / "runs", run_id="startup")
        marks = {"launch_returned_s": time.monotonic() - start}
        while True:
            status = store.read_status(run_dir)
            now = time.monotonic() - start
            if status.get("state") == "running":
                marks.setdefault("running_s", now)
            if status.get("message") == "training":
                marks.setdefault("trainer_built_s", now)
            if store.read_metrics(run_dir):
                marks["first_record_s"] = now
                break
            if status.get("state") in store.FINAL_STATES:
                raise RuntimeError(f"run ended before logging: {status}")
            time.sleep(0.01)
        launcher.stop_run(run_dir, grace_s=30)
    return marks


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    firsts = []
    for i in range(args.runs):
        marks = one_run()
        firsts.append(marks["first_record_s"])
        print(f"run {i + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in marks.items()), flush=True)
    print(
        f"first metrics record: median {statistics.median(firsts):.2f} s, max {max(firsts):.2f} s "
        f"(target <= {TARGET_S:.0f} s) load average {os.getloadavg()[0]:.1f}"
    )
    return 0 if max(firsts) <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
