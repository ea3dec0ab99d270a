"""Server-side rerun time of the Schedules page after a widget change, on a 1,000,000-update run.

    python bench/page_rerun.py [--runs 20] [--steps 1000000]

Drives lrexplorer/app/page_scripts/schedules.py with Streamlit's AppTest (no browser): three schedules (linear, cosine,
OneCycleLR), 2,000 warmup updates, then times `.run()` after each change. Three cases:
- learning_rate changes to a new value every time: all three curves are recomputed (worst case);
- one schedule's argument changes: that curve is recomputed, the other two come from the cache;
- learning_rate flips between two values already seen: every curve comes from the cache.
The time includes AppTest's own overhead, so the page alone is a little faster.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[1] / "lrexplorer" / "app" / "page_scripts" / "schedules.py")
SCHEDULES = "linear,cosine,OneCycleLR"


def timed_reruns(at: AppTest, change, runs: int) -> list[float]:
    times = []
    for i in range(runs):
        change(at, i)
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=1_000_000)
    args = parser.parse_args()

    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params.update({"schedule": SCHEDULES, "steps": str(args.steps), "warmup": "2000"})
    at.run()
    assert not at.exception and len(at.get("plotly_chart")) == 2
    timed_reruns(at, lambda a, i: a.number_input(key="sched.learning_rate").set_value(1e-4 * (2 + i / 1000)), 3)

    def new_lr(a: AppTest, i: int) -> None:
        a.number_input(key="sched.learning_rate").set_value(3e-4 * (1 + i / 997))

    def new_cycles(a: AppTest, i: int) -> None:
        a.text_input(key="sched.cosine.num_cycles").set_value(str(0.5 + i / 100))

    def seen_lr(a: AppTest, i: int) -> None:
        a.number_input(key="sched.learning_rate").set_value(3e-4 if i % 2 else 3e-4 * (1 + 1 / 997))

    print(f"Schedules page rerun, {args.steps:,} updates, schedules {SCHEDULES}, {args.runs} reruns each")
    for label, change in (
        ("learning_rate changed (3 curves recomputed)", new_lr),
        ("cosine num_cycles changed (1 curve recomputed)", new_cycles),
        ("learning_rate back to a cached value (0 recomputed)", seen_lr),
    ):
        times = timed_reruns(at, change, args.runs)
        print(f"  {label:<52} median {statistics.median(times) * 1e3:6.1f} ms   max {max(times) * 1e3:6.1f} ms")


if __name__ == "__main__":
    main()
