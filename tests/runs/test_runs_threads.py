"""A one-process CPU run leaves one physical core to the app and the browser showing it."""

from __future__ import annotations

import psutil

from lrexplorer.runs.training.worker import cpu_threads


def test_a_cpu_run_takes_every_core_but_one_unless_the_user_said():
    cores = psutil.cpu_count(logical=False) or 1
    assert cpu_threads(True, {}) == max(1, cores - 1)
    assert cpu_threads(True, {"OMP_NUM_THREADS": "2"}) is None, "the user's OMP_NUM_THREADS stands"
    assert cpu_threads(False, {}) is None, "a GPU run keeps torch's choice"
