"""DeepSpeed ZeRO on two CPU processes (gloo) against plain data parallel: the built-in model, 12 updates
each through the `lrexplorer train` CLI; prints the median step time (steps 3 onward), the first and last
loss, and rank 0's predicted against measured peak (RUN/memory.json).

    python bench/deepspeed_cpu.py [--steps 12] [--presets none,zero1,zero2,zero2_offload]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lrexplorer.core.units import MIB
from lrexplorer.runs.folder import store


def run(preset: str, steps: int, root: Path) -> dict:
    run_dir = root / preset
    cmd = [sys.executable, "-m", "lrexplorer", "train", "--num_processes=2", f"--max_steps={steps}"]
    cmd += [f"--output_dir={run_dir}", "--quiet"] + ([] if preset == "none" else [f"--deepspeed={preset}"])
    start = time.perf_counter()
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{preset} failed:\n{done.stderr[-2000:]}")
    metrics = store.read_metrics(run_dir)
    times = [r["step_time_s"] for r in metrics if "step_time_s" in r and r.get("step", 0) >= 3]
    losses = [r["loss"] for r in metrics if "loss" in r]
    memory = store.read_memory_record(run_dir)
    return {
        "preset": preset,
        "wall_s": wall,
        "step_s": statistics.median(times),
        "loss": (losses[0], losses[-1]),
        "predicted": memory["predicted_peak_bytes"],
        "measured": memory["measured_peak_bytes"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--presets", default="none,zero1,zero2,zero2_offload")
    args = parser.parse_args()
    print("| preset | wall s | median step s | steps/s | loss first → last | rank 0 peak predicted | measured | diff |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="lrx-ds-bench-") as root:
        for preset in args.presets.split(","):
            r = run(preset, args.steps, Path(root))
            diff = r["measured"] / r["predicted"] - 1
            print(
                f"| {r['preset']} | {r['wall_s']:.1f} | {r['step_s']:.3f} | {1 / r['step_s']:.2f} | "
                f"{r['loss'][0]:.4f} → {r['loss'][1]:.4f} | {r['predicted'] / MIB:.1f} MiB | "
                f"{r['measured'] / MIB:.1f} MiB | {diff:+.1%} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
