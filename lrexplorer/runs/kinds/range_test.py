"""The LR range test as a run kind: the range-test scheduler and callback in the run's trainer; the result
goes to `lr_find.json`, and no model and no checkpoint are saved (a range test must never become the
starting point of a run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lrexplorer.runs.kinds.kind import RunKind

RANGE_TEST = "lr_range_test"
RESULT_FILE = "lr_find.json"


class RangeTestRun:
    def __init__(self, run_dir: Path, settings: dict[str, Any], trainer: Any) -> None:
        from lrexplorer.tuning.lr_range import RangeTest
        from lrexplorer.tuning.range_trainer import RangeTestCallback

        self.run_dir = run_dir
        self.callback = RangeTestCallback(RangeTest(**settings))
        trainer.lrx_range_test = self.callback.test
        trainer.add_callback(self.callback)  # after the run's own callback, so it undoes a stop-time save

    def finish(self, stop_reason: str | None, nonfinite: str | None) -> tuple[str, str]:
        """(state, message) of the ended run; writes the result whatever the reason it ended."""
        result = self.callback.result()
        (self.run_dir / RESULT_FILE).write_text(json.dumps(result, indent=1), encoding="utf-8")
        found = {k: v for k, v in result["suggestions"].items() if v is not None}
        text = ", ".join(f"{k} {v:.3g}" for k, v in found.items()) or "none (too few updates)"
        done = f"range test over {len(result['lrs'])} updates; suggested LRs: {text}; result in {RESULT_FILE}"
        if stop_reason:
            return "stopped", f"{stop_reason}; {done}"
        if nonfinite or result["stopped_early"]:
            return "completed", f"{done} (stopped early: the loss ran away, as the test intends)"
        return "completed", done


def read_result(run_dir: Path) -> dict[str, Any] | None:
    """The range test's result (the `lrexplorer lr-find --json` shape), once its run has ended."""
    path = Path(run_dir) / RESULT_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


KIND = RunKind(RANGE_TEST, "a range test", RangeTestRun)
