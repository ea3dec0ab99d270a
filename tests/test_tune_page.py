"""The Tune page (AppTest): a finished range test's suggestions, each with its "use this LR" button."""

from __future__ import annotations

import json
import math
from pathlib import Path

from helpers.run_folders import make_run
from streamlit.testing.v1 import AppTest

from lrexplorer.tuning.lr_range import RangeTest, range_result
from lrexplorer.tuning.run_kinds import RANGE_TEST, RESULT_FILE, mark

ROOT = Path(__file__).resolve().parents[1]


def test_a_finished_range_test_shows_its_suggestions_with_use_this_lr(tmp_path, monkeypatch):
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path))
    test = RangeTest(start_lr=1e-6, end_lr=1.0, num_steps=60)
    lrs = test.lrs()
    # A loss that falls between 1e-4 and 1e-2 and runs away above: the suggestions land in the fall.
    losses = [3.0 - 2.0 / (1 + math.exp(-3 * (math.log10(lr) + 3))) + (50 * lr) ** 2 for lr in lrs]
    result = range_result(lrs, losses, test)
    run_dir = make_run(tmp_path, "lr-range-test-1", run_kind=RANGE_TEST)
    mark(run_dir, RANGE_TEST, test.settings())
    (run_dir / RESULT_FILE).write_text(json.dumps(result))

    at = AppTest.from_file(str(ROOT / "app_pages" / "tune.py"), default_timeout=120)
    at.query_params["lrfind"] = "lr-range-test-1"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(m.value for m in at.markdown)
    valley = result["suggestions"]["valley"]
    assert f"`{valley:.2e}`" in shown and "**valley**" in shown
    assert at.button(key="tune.use.valley") is not None and at.button(key="tune.use.steep") is not None
