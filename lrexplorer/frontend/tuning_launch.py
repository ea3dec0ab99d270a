"""Start range tests and sweep trials as runs: the same folders, worker and device lock as any run.

The only difference from `launcher.start_run` is the `run_kind.json` written between preparing the
folder and launching its worker (the worker reads it as it builds the trainer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lrexplorer.runs.kinds.range_test import RANGE_TEST
from lrexplorer.runs.kinds.registry import mark
from lrexplorer.tuning.lr_range import RangeTest


def start_kind_run(
    fields: dict[str, Any],
    kind: str,
    settings: dict[str, Any],
    root: str | Path | None = None,
    *,
    run_id: str | None = None,
    queue: bool = False,
) -> Path:
    """Validate `fields` as a run, create its folder marked with `kind`, launch it; returns the folder.

    Raises FieldError (every field at fault) or `lock.DeviceBusy` before anything is created.
    """
    from lrexplorer.runs import launcher
    from lrexplorer.runs.folder import store
    from lrexplorer.runs.spec import RunSpec

    spec = RunSpec.from_dict(fields)
    if run_id is None and not spec["output_dir"]:
        root_dir = store.runs_dir(root)
        root_dir.mkdir(parents=True, exist_ok=True)
        run_id = f"{kind.replace('_', '-')}-{launcher.new_run_id(spec, root_dir)}"

    def marked(run_dir: Path) -> None:
        mark(run_dir, kind, settings)
        store.update_status(run_dir, run_kind=kind)

    return launcher.start_run(spec, Path(root) if root else None, run_id=run_id, queue=queue, before_launch=marked)


def range_test_fields(fields: dict[str, Any], test: RangeTest) -> dict[str, Any]:
    """The run fields of a range test: the user's, with the test's length, LR and logging over them."""
    return {**fields, **test.run_fields()}


def start_range_test(
    fields: dict[str, Any], test: RangeTest, root: str | Path | None = None, *, queue: bool = False
) -> Path:
    """Launch the range test of the run `fields` describe, in a run folder of its own."""
    return start_kind_run(range_test_fields(fields, test), RANGE_TEST, test.settings(), root, queue=queue)
