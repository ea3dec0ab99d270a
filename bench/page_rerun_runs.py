"""Server-side rerun time of the Train page's live view and of the Runs page with 10,000-point runs.

    python bench/page_rerun_runs.py [--points 10000] [--reruns 20]

Builds a runs folder in a temporary directory: a *running* run with `--points` logged steps (its
"worker" is a sleeping process, so the run is live for the page) and a completed one of the same
length. Then, with Streamlit's AppTest (no browser; AppTest's own overhead included), times:
- the Train page at ?run=ID when nothing new was logged (the shared snapshot and figures are reused);
- the same when one new record is appended before each rerun (one line read, five figures rebuilt
  from 10,001+ points: the worst case of a live tick);
- the Runs page comparing both runs (table, two 10,000-point overlays, config diff, export).
Target: at most 200 ms per rerun.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_run(root: Path, run_id: str, points: int, state: str, pid: int | None = None) -> Path:
    import psutil

    from lrexplorer.runs.folder import store
    from lrexplorer.runs.spec import RunSpec

    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    spec = RunSpec.from_dict(
        {
            "max_steps": points * 2 if state == "running" else points,
            "learning_rate": 1e-3,
            "lr_scheduler_type": "cosine",
            "warmup_steps": 100.0,
            "output_dir": str(run_dir),
        }
    )
    (run_dir / store.CONFIG).write_text(spec.to_yaml(), encoding="utf-8")
    now = time.time()
    status = {
        "state": state,
        "run_id": run_id,
        "created_at": now - 3600,
        "started_at": now - 3600,
        "max_steps": spec["max_steps"],
        "global_step": points,
        "attn_implementation": "sdpa",
    }
    if pid is not None:
        status.update(pid=pid, pid_create_time=psutil.Process(pid).create_time())
    else:
        status.update(ended_at=now)
    store.write_json_atomic(run_dir / store.STATUS, status)
    with open(run_dir / store.METRICS, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(record(s)) + "\n" for s in range(1, points + 1))
    return run_dir


def record(step: int) -> dict:
    import math

    return {
        "step": step,
        "epoch": step / 2500,
        "time": 1e9 + step * 0.3,
        "loss": 3 + math.sin(step / 300) + 1 / step,
        "grad_norm": 1 + (step % 17) / 10,
        "learning_rate": 1e-3 * (0.5 + 0.5 * math.cos(step / 20000)),
        "tokens_per_s": 900 + step % 50,
        "rss_bytes": 2**30 + step * 1000,
    }


def timed(at, reruns: int, before=None) -> list[float]:
    times = []
    for i in range(reruns):
        if before:
            before(i)
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
        assert not at.exception, at.exception
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--reruns", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lrx-bench-"))
    os.environ.update(LRX_RUNS_DIR=str(tmp / "runs"), LRX_LOCK_DIR=str(tmp / "locks"))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    try:
        from streamlit.testing.v1 import AppTest

        live = make_run(tmp / "runs", "live", args.points, "running", pid=sleeper.pid)
        make_run(tmp / "runs", "done", args.points, "completed")
        at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "main.py"), default_timeout=120)
        at.query_params["run"] = "live"
        at.switch_page("page_scripts/train.py")
        timed(at, 3)  # warm-up: imports, first read of the metrics file
        assert len(at.get("plotly_chart")) == 5
        results = [("Train ?run=, nothing new logged", timed(at, args.reruns))]
        step = [args.points]

        def append(_: int) -> None:
            step[0] += 1
            with open(live / "metrics.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record(step[0])) + "\n")
            time.sleep(0.55)  # older than the feed's max_age: the rerun reads the disk

        results.append(("Train ?run=, one new record per rerun", timed(at, args.reruns, append)))
        runs_at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "main.py"), default_timeout=120)
        runs_at.switch_page("page_scripts/runs.py")
        runs_at.run()
        runs_at.multiselect(key="runs.compare").set_value(["live", "done"])
        timed(runs_at, 3)
        results.append(("Runs page comparing both runs", timed(runs_at, args.reruns)))
        print(f"Page reruns with {args.points:,}-point runs, {args.reruns} reruns each (AppTest, server side)")
        for label, times in results:
            print(f"  {label:<42} median {statistics.median(times) * 1e3:6.1f} ms   max {max(times) * 1e3:6.1f} ms")
    finally:
        sleeper.kill()


if __name__ == "__main__":
    main()
