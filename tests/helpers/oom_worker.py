"""A run's worker whose training step raises torch.OutOfMemoryError from a given step on, so the
out-of-memory path runs for real on a machine without a GPU.

    python tests/helpers/oom_worker.py STEP RUN_DIR [worker options]

Patches `LrxSFTTrainer.training_step` in this process only, then runs the real worker's `main`.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout's lrexplorer
    import torch

    from lrexplorer.runs.training import worker
    from lrexplorer.runs.training.trainer import LrxSFTTrainer

    at_step = int(argv[0])
    real_step = LrxSFTTrainer.training_step

    def training_step(self, model, inputs, num_items_in_batch=None):
        if self.state.global_step >= at_step:
            raise torch.OutOfMemoryError(f"CUDA out of memory (raised by the test at step {self.state.global_step})")
        return real_step(self, model, inputs, num_items_in_batch)

    LrxSFTTrainer.training_step = training_step  # type: ignore[method-assign]
    return worker.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
