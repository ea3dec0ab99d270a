"""Schedule recognition on the learning rates real Trainer runs logged: the schedule, peak LR and warmup that
made them come back exactly (or an exactly equivalent schedule, with the truth among the alternatives), and a
run resumed with another schedule is seen to depart where the new schedule took over."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.trainer_runs import logged_lrs, trainer_run

from lrexplorer.schedules import compute_curve
from lrexplorer.schedules.recognise import Match, recognise

CASES = [
    # (schedule, kwargs, learning_rate, warmup_steps given, logging_steps, max_steps)
    ("linear", {}, 3e-4, 5, 1, 30),
    ("cosine", {}, 5e-4, 0.1, 3, 40),
    ("cosine", {"num_cycles": 1.5}, 5e-4, 3, 1, 30),
    ("constant_with_warmup", {}, 2e-4, 7, 2, 30),
    ("polynomial", {"power": 2.0, "lr_end": 1e-6}, 3e-4, 4, 1, 30),
    ("cosine_with_min_lr", {"min_lr_rate": 0.2}, 1e-3, 2, 1, 30),
    ("warmup_stable_decay", {"num_decay_steps": 10, "decay_type": "linear", "min_lr_ratio": 0.1}, 1e-3, 4, 1, 40),
    ("inverse_sqrt", {"timescale": 9}, 1e-3, 4, 1, 30),
]


def _is(match: Match, name: str, lr: float, warmup: int) -> bool:
    return match.lr_scheduler_type == name and match.learning_rate == lr and match.warmup_steps == warmup


@pytest.mark.slow
@pytest.mark.parametrize(("name", "kwargs", "lr", "warmup", "every", "n"), CASES, ids=[c[0] for c in CASES])
def test_the_schedule_of_a_real_trainer_run_is_recognised_exactly(tmp_path, name, kwargs, lr, warmup, every, n):
    trainer = trainer_run(
        tmp_path, name, kwargs, learning_rate=lr, warmup_steps=warmup, max_steps=n, logging_steps=every
    )
    steps, lrs = logged_lrs(trainer)
    w = trainer.args.get_warmup_steps(n)
    found = recognise(steps, lrs, trainer.state.max_steps)
    assert found.match is not None and found.complete
    m = found.match
    again = compute_curve(m.lr_scheduler_type, m.learning_rate, n, m.warmup_steps, m.lr_scheduler_kwargs).lr
    assert np.max(np.abs(again[np.asarray(steps) - 1] - lrs)) == m.max_abs_error <= 1e-12 * max(lrs)
    # The run's own schedule, or one that is the same at every update (cosine with 1.5 cycles over 27 updates is
    # CosineAnnealingLR with T_max 9), or the truth among the equally exact readings.
    truth = compute_curve(name, lr, n, w, kwargs).lr
    assert np.allclose(again, truth, rtol=1e-12, atol=0) or any(_is(c, name, lr, w) for c in found.alternatives)
    if m.lr_scheduler_type == name:  # the arguments come back as they were typed
        assert m.warmup_steps == w and all(m.lr_scheduler_kwargs.get(k, v) == v for k, v in kwargs.items())


@pytest.mark.slow
def test_a_torch_scheduler_given_to_a_plain_trainer_is_recognised(tmp_path):
    import torch

    trainer = trainer_run(
        tmp_path, learning_rate=1e-3, max_steps=30, torch_scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 7, 0.5)
    )
    found = recognise(*logged_lrs(trainer), trainer.state.max_steps)
    assert found.match is not None
    assert (found.match.lr_scheduler_type, found.match.learning_rate, found.match.warmup_steps) == ("StepLR", 1e-3, 0)
    assert found.match.lr_scheduler_kwargs == {"step_size": 7, "gamma": 0.5}


@pytest.mark.slow
def test_a_run_resumed_with_another_schedule_departs_where_that_schedule_takes_over(tmp_path):
    switch, n = 20, 40
    trainer_run(tmp_path, "linear", learning_rate=3e-4, warmup_steps=5, max_steps=n, save_steps=switch)
    resumed = trainer_run(
        tmp_path,
        "cosine",
        learning_rate=3e-4,
        warmup_steps=5,
        max_steps=n,
        save_steps=n,
        resume=tmp_path / f"checkpoint-{switch}",
    )
    steps, lrs = logged_lrs(resumed)
    assert steps == list(range(1, n + 1))  # the resumed state holds the first part's logs
    found = recognise(steps, lrs, n)
    assert found.match is None and found.complete
    # Update `switch` still uses the restored LR; the new lambda gives update switch + 1, logged at step switch + 2.
    assert found.departs_at_step == switch + 2
    assert found.followed is not None and _is(found.followed, "linear", 3e-4, 5)


def test_nothing_to_recognise_and_a_search_cut_short_say_so():
    assert recognise([], [], 10).match is None
    assert recognise([1, 2, 3], [0.0, 0.0, 0.0], 10).match is None  # no positive LR: no peak to find
    lrs = compute_curve("cosine", 1e-3, 3000, 90, {"num_cycles": 0.75}).lr
    steps = np.arange(25, 3001, 25)
    cut = recognise(steps, lrs[steps - 1], 3000, budget=50)
    assert not cut.complete and cut.match is None and cut.departs_at_step is None
