"""FSDP's own options in the memory engine: what reshard_after_forward and CPU offload each save per GPU
(the savings report's FSDP rows), checked against the engine's own estimates and a simulated FSDP2 step;
with fsdp off they change nothing; and a run's fsdp_config reads as transformers reads it."""

from __future__ import annotations

from typing import Any

import pytest
from test_memory_parallel import ARCH as SMALL_ARCH
from test_memory_parallel import SETUP

from lrexplorer.catalogues.params.distributed import fsdp_config_problem, fsdp_memory_options
from lrexplorer.memory.advice.accuracy import BASE_CONFIG
from lrexplorer.memory.advice.savings import savings
from lrexplorer.memory.analytic.estimate import estimate
from lrexplorer.memory.model_source import resolve_model
from lrexplorer.memory.setup import TrainingSetup

BIG = TrainingSetup(per_device_train_batch_size=4, max_length=2048, bf16=True, dtype="float32", num_gpus=8, fsdp=True)
SMALL = SETUP.with_(num_gpus=2)  # the small Llama of the FSDP2 simulation tests, on two GPUs


def by_key(items: list[Any]) -> dict[str, Any]:
    return {s.trick.key: s for s in items}


@pytest.mark.parametrize(
    "chosen", [{}, {"fsdp_reshard_after_forward": False, "fsdp_offload_params": True}], ids=["defaults", "flipped"]
)
def test_each_fsdp_option_saves_the_engine_s_own_difference(chosen: dict[str, bool]) -> None:
    arch = resolve_model("Llama-3.1-8B").architecture
    setup = BIG.with_(**chosen)
    rows = by_key(savings(arch, setup).fsdp)
    assert set(rows) == {"fsdp_reshard_after_forward", "fsdp_offload_params"}
    for key, row in rows.items():
        off, on = estimate(arch, setup.with_(**{key: False})), estimate(arch, setup.with_(**{key: True}))
        assert row.compared == f"{key} False → True"
        assert row.saved_bytes == off.peak_bytes - on.peak_bytes > 0, key
        assert row.saved_fraction == pytest.approx(row.saved_bytes / off.peak_bytes)
        assert row.estimate is not None and row.estimate.peak_bytes == on.peak_bytes
    # Offloading moves the shards to the CPU: the row says how much RAM each rank then needs.
    host = estimate(arch, setup.with_(fsdp_offload_params=True)).host_bytes
    assert host > 0 and f"{host / 2**30:.2f} GiB of CPU RAM per rank" in rows["fsdp_offload_params"].note


def test_the_sharding_row_names_the_fsdp_options_it_includes() -> None:
    arch = resolve_model("Llama-3.1-8B").architecture
    setup = BIG.with_(fsdp_offload_params=True)
    shard = by_key(savings(arch, setup).chosen)["zero_stage"]
    assert "fsdp False → True" in shard.compared and "fsdp_offload_params False → True" in shard.compared
    assert shard.setup.fsdp_offload_params and shard.estimate == estimate(arch, shard.setup)


def test_fsdp_option_savings_follow_the_simulated_fsdp2_step() -> None:
    """Each option's saving against the same option flipped in one rank of a simulated FSDP2 step."""
    from lrexplorer.memory.pytorch.simulate_parallel import simulate_parallel_step

    rows = by_key(savings(SMALL_ARCH, SMALL).fsdp)
    base = simulate_parallel_step(BASE_CONFIG, SMALL_ARCH, SMALL)
    kept = simulate_parallel_step(BASE_CONFIG, SMALL_ARCH, SMALL.with_(fsdp_reshard_after_forward=False))
    offloaded = simulate_parallel_step(BASE_CONFIG, SMALL_ARCH, SMALL.with_(fsdp_offload_params=True))
    for key, simulated_saving in (
        ("fsdp_reshard_after_forward", kept.peak_bytes - base.peak_bytes),
        ("fsdp_offload_params", base.peak_bytes - offloaded.peak_bytes),
    ):
        assert simulated_saving > 0 and rows[key].saved_bytes > 0, key
        # within the analytic engine's 3% target on the peak it comes from
        assert abs(rows[key].saved_bytes - simulated_saving) <= 0.03 * base.peak_bytes, key
    est = rows["fsdp_offload_params"].estimate
    assert est is not None and est.host_bytes == pytest.approx(offloaded.host_bytes, rel=0.01)


@pytest.mark.parametrize("sharding", [{"num_gpus": 1}, {"num_gpus": 4}, {"num_gpus": 4, "zero_stage": 3}])
def test_without_fsdp_its_options_change_nothing_and_get_no_rows(sharding: dict[str, int]) -> None:
    arch = resolve_model("Llama-3.2-1B").architecture
    setup = BIG.with_(fsdp=False, **sharding)
    flipped = setup.with_(fsdp_reshard_after_forward=False, fsdp_offload_params=True)
    a, b = estimate(arch, setup), estimate(arch, flipped)
    assert (a.peak_bytes, a.components, a.phases, a.host_bytes) == (b.peak_bytes, b.components, b.phases, 0)
    assert savings(arch, setup).fsdp == []


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"reshard_after_forward": False},
        {"cpu_offload": True},
        {"fsdp_reshard_after_forward": "false", "fsdp_cpu_offload": True},
        {"reshard_after_forward": "true", "cpu_offload": False, "version": 2},
    ],
)
def test_fsdp_config_reads_as_transformers_reads_it(config: dict[str, Any], tmp_path) -> None:
    from transformers import TrainingArguments

    assert fsdp_config_problem(config) is None
    plugin = TrainingArguments(str(tmp_path), fsdp=True, fsdp_config=dict(config)).fsdp_plugin_args
    ours = fsdp_memory_options(config)
    assert ours["fsdp_reshard_after_forward"] == plugin["reshard_after_forward"]
    assert ours["fsdp_offload_params"] == plugin.get("cpu_offload", False)


def test_fsdp_config_values_transformers_would_misread_are_refused() -> None:
    assert "JSON boolean" in (fsdp_config_problem({"cpu_offload": "false"}) or "")
    assert "true or false" in (fsdp_config_problem({"fsdp_reshard_after_forward": "maybe"}) or "")
