"""The analytic estimate's peak against measured and simulated training steps, held to fixed error targets.

Truth is a real training step counted by torch's MemTracker (CPU, real tensors) or the same step
under FakeTensorMode; the targets are those of the bench (median |error| <= 3 %, worst <= 10 %).
"""

from __future__ import annotations

import pytest

from lrexplorer.memory.advice.accuracy import CPU_MATRIX, TEST_SUBSET, error, summary
from lrexplorer.memory.analytic.estimate import estimate
from lrexplorer.memory.model_source import resolve_model
from lrexplorer.memory.pytorch.measure import measure_step
from lrexplorer.memory.pytorch.simulate import simulate_step

pytestmark = pytest.mark.slow


def test_peak_meets_the_targets_on_measured_steps() -> None:
    cases = [c for c in CPU_MATRIX if c.name in TEST_SUBSET]
    assert len(cases) == len(TEST_SUBSET)
    errors = {}
    for case in cases:
        config, arch, setup = case.build()
        truth = measure_step(config, arch, setup)
        errors[case.name] = error(estimate(arch, setup).peak_bytes, truth.peak_bytes)
    median, worst = summary(list(errors.values()))
    assert median <= 0.03, errors
    assert worst <= 0.10, errors


def test_simulation_counts_what_a_real_step_allocates() -> None:
    # The simulated engine (fake tensors) against the same step with real tensors.
    case = next(c for c in CPU_MATRIX if c.name == "GQA 8:2 eager")
    config, arch, setup = case.build()
    real = measure_step(config, arch, setup)
    fake = simulate_step(config, arch, setup)
    assert abs(error(fake.peak_bytes, real.peak_bytes)) <= 0.005
    assert (fake.weights, fake.gradients, fake.optimizer_states) == (
        real.weights,
        real.gradients,
        real.optimizer_states,
    )


def test_real_size_preset_simulated_step_agrees_with_the_estimate() -> None:
    source = resolve_model("SmolLM2-135M")
    from lrexplorer.memory.setup import TrainingSetup

    setup = TrainingSetup(
        device="cpu", dtype="bfloat16", per_device_train_batch_size=2, max_length=512, activation_checkpointing=True
    )
    sim = simulate_step(source.config, source.architecture, setup)
    assert abs(error(estimate(source.architecture, setup).peak_bytes, sim.peak_bytes)) <= 0.03
