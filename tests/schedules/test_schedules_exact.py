"""Every catalogued curve equals, update by update, the LR the real scheduler applies."""

from __future__ import annotations

import pytest
from helpers.real_schedulers import assert_same_curve, real_failure, reference, rtol_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrexplorer.core.fields import FieldError
from lrexplorer.schedules import CATALOGUE, compute_curve


def check(name: str, lr: float, n: int, w: int, kwargs: dict | None = None) -> None:
    """Our curve equals the real one; where we refuse the input, the real scheduler, given the same
    input without our validation, raises or applies a non-finite or negative LR."""
    schedule = CATALOGUE[name]
    try:
        curve = compute_curve(name, lr, n, w, kwargs)
    except FieldError as refusal:
        why = real_failure(name, schedule.family, lr, n, w, dict(kwargs or {}))
        assert why is not None, (
            f"we refuse {name} (lr={lr}, n={n}, w={w}, {kwargs}) but the real scheduler runs it: {refusal}"
        )
        return
    real = reference(name, schedule.family, lr, n, w, curve.kwargs)
    assert_same_curve(curve.lr, real, lr, rtol_for(name))


def test_a_refusal_the_real_library_does_not_share_fails_the_check(monkeypatch) -> None:
    """`check` fails when we refuse what the real scheduler runs (and passes when it fails too)."""
    check("polynomial", 1e-3, 10, 10)  # refused by us; transformers divides by zero after the last update

    def refuse(*args, **kwargs):
        raise FieldError("learning_rate", "refused for this test")

    monkeypatch.setitem(globals(), "compute_curve", refuse)
    with pytest.raises(AssertionError, match="the real scheduler runs it"):
        check("linear", 1e-3, 10, 2)
    with pytest.raises(AssertionError, match="the real scheduler runs it"):
        check("StepLR", 0.1, 50, 5, {"step_size": 10})


# ---- every schedule with its defaults, over the edge cases of run length and warmup ----

EDGE_RUNS = [(1, 0), (1, 1), (2, 0), (10, 0), (10, 3), (10, 10), (10, 25), (97, 9), (500, 499), (1000, 100)]


@pytest.mark.parametrize("name", list(CATALOGUE))
@pytest.mark.parametrize(("n", "w"), EDGE_RUNS)
def test_defaults_match_real_scheduler(name: str, n: int, w: int) -> None:
    check(name, 3e-4, n, w)


# ---- arguments that change the shape: cycles, powers, phases, timescales ----


@pytest.mark.parametrize("cycles", [0.25, 0.5, 1.0, 2.5, 7.0])
def test_cosine_num_cycles(cycles: float) -> None:
    check("cosine", 1e-3, 300, 20, {"num_cycles": cycles})
    check("cosine_with_min_lr", 1e-3, 300, 20, {"num_cycles": cycles, "min_lr_rate": 0.05})
    check("cosine_warmup_with_min_lr", 1e-3, 300, 20, {"num_cycles": cycles, "min_lr": 1e-5})


@pytest.mark.parametrize("cycles", [1, 2, 3, 10])
def test_hard_restarts(cycles: int) -> None:
    check("cosine_with_restarts", 2e-5, 401, 17, {"num_cycles": cycles})


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0, 2.0, 3.7])
@pytest.mark.parametrize("lr_end", [0.0, 1e-7, 1e-5])
def test_polynomial_power_and_lr_end(power: float, lr_end: float) -> None:
    check("polynomial", 1e-4, 250, 25, {"power": power, "lr_end": lr_end})


@pytest.mark.parametrize("decay", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("warm", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("floor", [0.0, 0.1])
def test_warmup_stable_decay_types(decay: str, warm: str, floor: float) -> None:
    kw = {"num_decay_steps": 40, "warmup_type": warm, "decay_type": decay, "min_lr_ratio": floor}
    check("warmup_stable_decay", 5e-4, 200, 30, kw)
    check("warmup_stable_decay", 5e-4, 200, 30, {**kw, "num_stable_steps": 50})  # ends early at the floor


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize(("n", "w"), [(100, 0), (1000, 0), (137, 20)])
def test_one_cycle_phases_and_strategies(three_phase: bool, anneal: str, n: int, w: int) -> None:
    check("OneCycleLR", 1e-3, n, w, {"three_phase": three_phase, "anneal_strategy": anneal, "pct_start": 0.25})


@pytest.mark.parametrize("timescale", [None, 1, 50, 10_000])
@pytest.mark.parametrize("w", [0, 10])
def test_inverse_sqrt_timescale(timescale: int | None, w: int) -> None:
    check("inverse_sqrt", 1e-3, 300, w, {"timescale": timescale})


def test_warmup_lr_rate() -> None:
    check("cosine_warmup_with_min_lr", 1e-3, 120, 12, {"min_lr_rate": 0.1, "warmup_lr_rate": 0.2})
    check("cosine_warmup_with_min_lr", 1e-3, 120, 1, {"min_lr_rate": 0.1, "warmup_lr_rate": 0.2})


def test_torch_classes_with_specific_arguments() -> None:
    check("MultiStepLR", 0.1, 300, 10, {"milestones": [50, 50, 120, 400], "gamma": 0.5})  # repeated milestone
    check("CosineAnnealingWarmRestarts", 0.1, 2000, 0, {"T_0": 7, "T_mult": 2, "eta_min": 1e-4})
    check("CosineAnnealingWarmRestarts", 0.1, 500, 50, {"T_0": 33, "T_mult": 1})
    check("CosineAnnealingLR", 0.1, 1000, 0, {"T_max": 90, "eta_min": 0.001})  # runs past T_max: climbs again
    for mode in ("triangular", "triangular2", "exp_range"):
        check("CyclicLR", 0.1, 900, 30, {"step_size_up": 40, "step_size_down": 70, "mode": mode, "gamma": 0.999})
    check("LinearLR", 0.1, 80, 0, {"start_factor": 1.0, "end_factor": 0.0, "total_iters": 60})
    check("PolynomialLR", 0.1, 80, 5, {"total_iters": 60, "power": 2.0})
    check("ConstantLR", 0.1, 80, 5, {"factor": 0.5, "total_iters": 30})
    check("ExponentialLR", 0.1, 3000, 100, {"gamma": 0.999})
    check("StepLR", 0.1, 3000, 100, {"step_size": 250, "gamma": 0.7})


# ---- randomized grid ----


def _kwargs_strategy(name: str, lr: float):
    """Arguments drawn inside each class's documented ranges (lr-valued ones scaled to the LR)."""
    ints = st.integers
    floats = lambda lo, hi: st.floats(lo, hi, allow_nan=False, allow_infinity=False)  # noqa: E731
    table = {
        "linear": st.just({}),
        "constant": st.just({}),
        "constant_with_warmup": st.just({}),
        "cosine": st.fixed_dictionaries({"num_cycles": floats(0.05, 6)}),
        "cosine_with_restarts": st.fixed_dictionaries({"num_cycles": ints(1, 12)}),
        "polynomial": st.fixed_dictionaries({"power": floats(0, 4), "lr_end": floats(0, lr * 0.9)}),
        "inverse_sqrt": st.fixed_dictionaries({"timescale": st.one_of(st.none(), ints(1, 5000))}),
        "reduce_lr_on_plateau": st.fixed_dictionaries({"factor": floats(0.01, 0.9), "patience": ints(0, 20)}),
        "greedy": st.fixed_dictionaries({"factor": floats(0.5, 0.99)}),
        "cosine_with_min_lr": st.fixed_dictionaries({"num_cycles": floats(0.1, 3), "min_lr_rate": floats(0, 1)}),
        "cosine_warmup_with_min_lr": st.fixed_dictionaries(
            {
                "num_cycles": floats(0.1, 3),
                "min_lr": floats(0, lr),
                "warmup_lr_rate": st.one_of(st.none(), floats(0, 1)),
            }
        ),
        "warmup_stable_decay": st.fixed_dictionaries(
            {
                "num_decay_steps": ints(0, 3000),
                "warmup_type": st.sampled_from(["linear", "cosine", "1-sqrt"]),
                "decay_type": st.sampled_from(["linear", "cosine", "1-sqrt"]),
                "min_lr_ratio": floats(0, 1),
                "num_cycles": floats(0.1, 2),
            }
        ),
        "StepLR": st.fixed_dictionaries({"step_size": ints(1, 500), "gamma": floats(0.01, 1.5)}),
        "MultiStepLR": st.fixed_dictionaries(
            {"milestones": st.lists(ints(0, 3000), max_size=6), "gamma": floats(0.01, 1.0)}
        ),
        "ConstantLR": st.fixed_dictionaries({"factor": floats(0.01, 1), "total_iters": ints(1, 500)}),
        "LinearLR": st.fixed_dictionaries(
            {"start_factor": floats(0.01, 1), "end_factor": floats(0, 1), "total_iters": ints(1, 500)}
        ),
        "ExponentialLR": st.fixed_dictionaries({"gamma": floats(0.98, 1.0)}),
        "CosineAnnealingLR": st.fixed_dictionaries({"T_max": ints(1, 4000), "eta_min": floats(0, lr)}),
        "CosineAnnealingWarmRestarts": st.fixed_dictionaries(
            {"T_0": ints(1, 400), "T_mult": ints(1, 3), "eta_min": floats(0, lr)}
        ),
        "CyclicLR": st.fixed_dictionaries(
            {
                "step_size_up": ints(1, 300),
                "step_size_down": st.one_of(st.none(), ints(1, 300)),
                "mode": st.sampled_from(["triangular", "triangular2", "exp_range"]),
                "gamma": floats(0.99, 1.0),
            }
        ),
        "OneCycleLR": st.fixed_dictionaries(
            {
                "pct_start": floats(0.05, 0.95),
                "anneal_strategy": st.sampled_from(["cos", "linear"]),
                "three_phase": st.booleans(),
                "div_factor": floats(1.5, 100),
                "final_div_factor": floats(1, 1e5),
            }
        ),
        "PolynomialLR": st.fixed_dictionaries({"total_iters": ints(1, 3000), "power": floats(0, 4)}),
    }
    return table[name]


@st.composite
def cases(draw, name: str):
    lr = draw(st.floats(1e-6, 1.0))
    n = draw(st.integers(1, 2500))
    w = draw(st.one_of(st.just(0), st.integers(0, n + 20)))
    return lr, n, w, draw(_kwargs_strategy(name, lr))


@pytest.mark.parametrize("name", list(CATALOGUE))
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_randomized_grid_matches_real(name: str, data) -> None:
    lr, n, w, kwargs = data.draw(cases(name))
    check(name, lr, n, w, kwargs)


@pytest.mark.parametrize("n", [2046, 2047, 2048, 2500])
def test_triangular2_past_1024_cycles_is_refused_exactly_where_torch_overflows(n: int) -> None:
    # torch's CyclicLR computes 2.0 ** (cycle - 1) in Python floats; around n = 2048 updates of 2-update
    # cycles it overflows at the scheduler step after the last update. `check` fails both ways.
    check("CyclicLR", 1e-3, n, 0, {"step_size_up": 1, "step_size_down": None, "mode": "triangular2", "gamma": 1.0})
