"""The plan a Tune page shows before Start is bounded for every sampler: the random and TPE samplers' corners
are enumerated only while there are few of them, then sampled (the all-low and all-high corners first,
the same sample every time), never expanded; the grid's size is refused past the study's limit."""

from __future__ import annotations

import pytest
from helpers.sweep_spaces import BILLION_CORNERS, space_yaml

from lrexplorer.core.fields import FieldError
from lrexplorer.frontend.sweeps import MAX_PLANNED_CORNERS, corner_count, planned_params
from lrexplorer.tuning.space import parse_space
from lrexplorer.tuning.study import Sweep, SweepSettings

FIELDS = tuple(BILLION_CORNERS)


def sweep(text: str, sampler: str) -> Sweep:
    probe = Sweep.__new__(Sweep)
    probe.space, probe.settings = parse_space(text), SweepSettings(sampler=sampler)
    return probe


def huge_space() -> str:
    return space_yaml(BILLION_CORNERS)


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_a_billion_corners_are_sampled_not_enumerated(sampler):
    probe = sweep(huge_space(), sampler)
    assert corner_count(probe) == 10**9
    plan = planned_params(probe)
    assert len(plan) == MAX_PLANNED_CORNERS
    assert len({tuple(p.values()) for p in plan}) == MAX_PLANNED_CORNERS  # distinct corners
    converted = {n: [probe.space.dimensions[i].values[j] for j in range(10)] for i, n in enumerate(FIELDS)}
    assert plan[0] == {n: converted[n][0] for n in FIELDS} and plan[1] == {n: converted[n][-1] for n in FIELDS}
    assert all(p[n] in converted[n] for p in plan for n in FIELDS)
    assert planned_params(probe) == plan  # the same sample each time the page reruns


def test_a_small_space_is_planned_in_full():
    probe = sweep(
        "learning_rate: {low: 1.0e-5, high: 1.0e-3, log: true}\nper_device_train_batch_size: {values: [4, 8]}", "random"
    )
    plan = planned_params(probe)
    assert corner_count(probe) == 4 == len(plan)
    assert {(p["learning_rate"], p["per_device_train_batch_size"]) for p in plan} == {
        (1e-5, 4),
        (1e-5, 8),
        (1e-3, 4),
        (1e-3, 8),
    }


def test_a_huge_grid_is_refused_naming_the_space():
    with pytest.raises(FieldError, match="combinations"):
        SweepSettings(sampler="grid").trials_for(parse_space(huge_space()))
