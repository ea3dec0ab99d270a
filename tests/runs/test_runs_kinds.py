"""Run kinds are a registry of one module each: every kind's module is in it under its name, a run folder is
marked with a known kind only, and a plain run attaches nothing."""

from __future__ import annotations

import pytest

from lrexplorer.runs.kinds import imported, range_test, sweep_trial
from lrexplorer.runs.kinds.kind import KIND_FILE
from lrexplorer.runs.kinds.registry import KINDS, attach, mark, read_kind


def test_the_registry_holds_each_kind_module_under_its_name():
    assert KINDS == {"lr_range_test": range_test.KIND, "sweep_trial": sweep_trial.KIND, "imported": imported.KIND}
    assert all(kind.one_process for kind in KINDS.values())


def test_an_imported_run_has_nothing_to_attach(tmp_path):
    mark(tmp_path, imported.IMPORTED, {"source": "/elsewhere"})
    with pytest.raises(RuntimeError, match="imported run"):
        attach(tmp_path, trainer=object())


def test_a_folder_is_marked_with_a_known_kind_only_and_reads_back(tmp_path):
    with pytest.raises(ValueError, match="lr_range_test, sweep_trial, imported"):
        mark(tmp_path, "grid_search", {})
    assert not (tmp_path / KIND_FILE).exists()
    assert read_kind(tmp_path) == (None, {})
    assert attach(tmp_path, trainer=object()) is None  # a plain run: nothing added to its trainer
    mark(tmp_path, range_test.RANGE_TEST, {"start_lr": 1e-6})
    assert read_kind(tmp_path) == ("lr_range_test", {"start_lr": 1e-6})
