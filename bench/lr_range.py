"""How long an LR range test of the built-in model takes on this machine, and what it suggests.

    python bench/lr_range.py [--num_steps 100] [--repeats 1]

TRL's SFTTrainer on `builtin:tiny` + `builtin:arithmetic` with lrexplorer's run defaults and the range
test's run fields (`RangeTest.run_fields`), stepped by `RangeTestLR` and stopped by `RangeTestCallback`.
Printed per repeat: seconds to build the trainer (model, tokenized data), seconds of training, updates
done (fewer than planned when the loss ran away), updates per second, and each suggestion. The issue's
target for the whole feature: about a minute on a CPU, suggestion included.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")


def one(num_steps: int) -> str:
    from trl import SFTConfig, SFTTrainer

    from lrexplorer.runs.spec import RunSpec
    from lrexplorer.runs.training import sources
    from lrexplorer.tuning.lr_range import RangeTest
    from lrexplorer.tuning.range_trainer import RangeTestCallback, RangeTestSchedulerMixin

    test = RangeTest(num_steps=num_steps)
    start = time.perf_counter()
    spec = RunSpec.from_dict(test.run_fields())
    values = spec.values
    tokenizer = sources.load_tokenizer(values)
    model = sources.load_model(values, tokenizer, "sdpa")
    train, _ = sources.load_splits(values)
    recorder = RangeTestCallback(test)
    trainer_cls = type("RangeTestSFTTrainer", (RangeTestSchedulerMixin, SFTTrainer), {"lrx_range_test": test})
    with tempfile.TemporaryDirectory() as out:
        config = SFTConfig(output_dir=out, disable_tqdm=True, **spec.sft_kwargs(use_cpu=True))
        trainer = trainer_cls(
            model=model, args=config, train_dataset=train, processing_class=tokenizer, callbacks=[recorder]
        )
        built = time.perf_counter()
        trainer.train()
        done = time.perf_counter()
    result = recorder.result()
    updates = len(result["lrs"])
    found = ", ".join(f"{k} {v:.3g}" if v else f"{k} none" for k, v in result["suggestions"].items())
    return (
        f"build {built - start:.1f} s, train {done - built:.1f} s, {updates} updates ({updates / (done - built):.1f}/s), "
        f"stopped early: {result['stopped_early']}; load average {os.getloadavg()[0]:.1f}\n  suggestions: {found}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num_steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    for i in range(args.repeats):
        print(f"repeat {i + 1}: {one(args.num_steps)}", flush=True)


if __name__ == "__main__":
    main()
