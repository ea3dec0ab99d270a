"""Steps per second of a run launched through lrexplorer against the same SFTTrainer config run bare.

    python bench/train_overhead.py [--steps 200] [--pairs 3]

Both sides are fresh processes training the built-in model on builtin:arithmetic with the identical
`SFTConfig` (`RunSpec.sft_kwargs`). "lrexplorer" is the real worker started by the launcher (catalogue
scheduler mixin, counters, metrics.jsonl, status heartbeats, stop-file checks); "bare" is TRL's
`SFTTrainer` with no extra callback (both freeze the garbage collector's generations before `train()`,
as the worker does). Speed is optimizer steps / `train_runtime` as the Trainer itself
measures its loop. Runs alternate (bare, lrexplorer, bare, ...) and each side is scored by its
fastest run: other jobs on a shared machine only ever add time, so the best of several runs is the
closest to the true cost (medians on a busy 2-core machine swing tenfold). The ratio lrexplorer /
bare must be at least 0.97. Medians and the load average are printed too.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TARGET = 0.97


def spec_for(steps: int) -> Any:
    from lrexplorer.runs.spec import RunSpec

    return RunSpec.from_dict({"max_steps": steps, "save_strategy": "no", "logging_steps": 1})


def bare_child(steps: int, out: str) -> None:
    """One bare SFTTrainer run; prints its steps/s as JSON."""
    import datasets
    from trl import SFTConfig, SFTTrainer

    from lrexplorer.catalogues import builtin
    from lrexplorer.core.facts import detect_facts
    from lrexplorer.rules.attention import resolve_attention

    spec = spec_for(steps)
    facts = detect_facts(use_torch=True)
    tok = builtin.load_tokenizer()
    model = builtin.make_model("tiny", tok, spec["seed"], resolve_attention(spec.values, facts))
    train = datasets.load_dataset("json", data_files=builtin.dataset_files("arithmetic"))["train"]
    config = SFTConfig(output_dir=out, disable_tqdm=True, **spec.sft_kwargs(use_cpu=facts.on_cpu(False)))
    trainer = SFTTrainer(model=model, args=config, train_dataset=train, processing_class=tok)
    gc.freeze()  # as the worker does before train(): the comparison is about the loop, not the GC
    result = trainer.train()
    print(json.dumps({"steps_per_s": steps / result.metrics["train_runtime"]}))


def run_bare(steps: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run(
            [sys.executable, __file__, "--bare-child", "--steps", str(steps), "--out", out],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])["steps_per_s"]


def run_lrexplorer(steps: int) -> float:
    from lrexplorer.runs import launcher
    from lrexplorer.runs.folder import store

    with tempfile.TemporaryDirectory() as root:
        os.environ["LRX_LOCK_DIR"] = os.path.join(root, "locks")
        run_dir = launcher.start_run(spec_for(steps), Path(root) / "runs", run_id="bench")
        while store.read_status(run_dir).get("state") not in store.FINAL_STATES:
            time.sleep(0.2)
        status = store.read_status(run_dir)
        assert status["state"] == "completed", status
        summary = [r for r in store.read_metrics(run_dir) if "train_runtime" in r][-1]
    return steps / summary["train_runtime"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--bare-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_child:
        bare_child(args.steps, args.out)
        return 0
    bare, lrx = [], []
    for i in range(args.pairs):
        bare.append(run_bare(args.steps))
        lrx.append(run_lrexplorer(args.steps))
        print(
            f"pair {i + 1}: bare {bare[-1]:.2f} steps/s, lrexplorer {lrx[-1]:.2f} steps/s "
            f"(load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
    ratio = max(lrx) / max(bare)
    print(
        f"best bare {max(bare):.2f} steps/s, best lrexplorer {max(lrx):.2f} steps/s, ratio {ratio:.3f} "
        f"(target >= {TARGET}); medians {statistics.median(bare):.2f} / {statistics.median(lrx):.2f}"
    )
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
