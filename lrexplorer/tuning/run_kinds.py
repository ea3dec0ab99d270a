"""What makes a run a range test or a sweep trial: a `run_kind.json` beside its config.yaml.

A run folder without that file is an ordinary training run. The file says which kind the run is and
its settings; whoever prepares the run writes it (`mark`), and the worker reads it in one place
(`attach`) to add the kind's pieces to the trainer and, at the end, to say how the run ended:

- `lr_range_test`: the range-test scheduler and callback; the result goes to `lr_find.json`, no
  model and no checkpoint are saved (a range test must never become the starting point of a run).
- `sweep_trial`: reports the loss to the sweep's study after every log and stops when the pruner says
  so; a trial that runs to its end is an ordinary completed run.
- `imported`: the logs of a run made elsewhere (`runs/imported.py`); it has no worker and is read-only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KIND_FILE = "run_kind.json"
RESULT_FILE = "lr_find.json"
RANGE_TEST = "lr_range_test"
SWEEP_TRIAL = "sweep_trial"
IMPORTED = "imported"
KINDS = (RANGE_TEST, SWEEP_TRIAL, IMPORTED)


def mark(run_dir: Path, kind: str, settings: dict[str, Any]) -> None:
    """Record the run's kind and settings (before its worker starts)."""
    if kind not in KINDS:
        raise ValueError(f"run kind must be one of {', '.join(KINDS)}; got {kind!r}")
    text = json.dumps({"run_kind": kind, "settings": settings}, indent=1)
    (Path(run_dir) / KIND_FILE).write_text(text, encoding="utf-8")


def read_kind(run_dir: Path) -> tuple[str | None, dict[str, Any]]:
    """(kind, settings); (None, {}) for an ordinary run."""
    path = Path(run_dir) / KIND_FILE
    if not path.exists():
        return None, {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data["run_kind"], data["settings"]


def read_result(run_dir: Path) -> dict[str, Any] | None:
    """The range test's result (the `lrexplorer lr-find --json` shape), once its run has ended."""
    path = Path(run_dir) / RESULT_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


class RangeTestKind:
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


class SweepTrialKind:
    def __init__(self, run_dir: Path, settings: dict[str, Any], trainer: Any) -> None:
        from lrexplorer.tuning.study import open_sweep
        from lrexplorer.tuning.trial_callback import TrialReportCallback

        sweep = open_sweep(settings["sweep"])
        self.callback = TrialReportCallback(sweep.trial(settings["trial"]), sweep.settings.metric)
        trainer.add_callback(self.callback)

    def finish(self, stop_reason: str | None, nonfinite: str | None) -> tuple[str, str] | None:
        pruned = self.callback.handle.stored().user_attrs.get("pruned_at")
        if pruned is None or stop_reason or nonfinite:
            return None  # ends as any run does
        return "completed", f"pruned by the sweep at step {pruned}: its loss was behind the other trials'"


def attach(run_dir: Path, trainer: Any) -> RangeTestKind | SweepTrialKind | None:
    """Add the pieces of the run's kind to its trainer; None for an ordinary run."""
    kind, settings = read_kind(run_dir)
    if kind == RANGE_TEST:
        return RangeTestKind(Path(run_dir), settings, trainer)
    if kind == SWEEP_TRIAL:
        return SweepTrialKind(Path(run_dir), settings, trainer)
    return None
