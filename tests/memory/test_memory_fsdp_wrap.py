"""FSDP2 with one group per decoder layer and the root (fsdp_wrap "layers", as plain `fully_shard` scripts and
torchtune wrap): the analytic per-rank figures against one rank of the simulated step wrapped that way with
`fully_shard` on a fake process group, the groups `fully_shard` really made, and why the option exists: with
an untied embedding the root keeps the embedding and lm_head gathered, so a rank needs more than under
accelerate's groups."""

from __future__ import annotations

from typing import Any

import pytest
from test_memory_parallel import ARCH, SETUP, TOLERANCE

from lrexplorer.catalogues.architecture import from_config
from lrexplorer.core.fields import FieldError
from lrexplorer.memory.advice.accuracy import BASE_CONFIG, error
from lrexplorer.memory.analytic.estimate import CUBLAS_WORKSPACE, CUDA_CONTEXT, estimate
from lrexplorer.memory.model_source import resolve_model
from lrexplorer.memory.setup import TrainingSetup, validate

LAYERS = SETUP.with_(fsdp_wrap="layers")
TIED_CONFIG = {**BASE_CONFIG, "tie_word_embeddings": True}
FIXED = CUDA_CONTEXT + CUBLAS_WORKSPACE  # both sides add them: left out, the comparison is sharper


def simulate(config: dict[str, Any], setup: TrainingSetup) -> Any:
    from lrexplorer.memory.pytorch.simulate_parallel import simulate_parallel_step

    return simulate_parallel_step(config, from_config(config), setup)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("config", "change"),
    [
        (BASE_CONFIG, {"num_gpus": 2}),
        (BASE_CONFIG, {"num_gpus": 8}),
        (TIED_CONFIG, {"num_gpus": 8}),
        (BASE_CONFIG, {"num_gpus": 8, "fsdp_reshard_after_forward": False}),
        (BASE_CONFIG, {"num_gpus": 2, "use_peft": True, "lora_r": 8}),
        (BASE_CONFIG, {"num_gpus": 2, "per_device_train_batch_size": 1, "max_length": 16}),
    ],
    ids=["untied-2", "untied-8", "tied-8", "shard-grad-op-8", "lora-2", "tiny-batch-2"],
)
def test_analytic_per_rank_matches_the_simulated_step_wrapped_per_layer(config: dict, change: dict) -> None:
    setup = LAYERS.with_(**change)
    sim, est = simulate(config, setup), estimate(from_config(config), setup)
    for phase, value in sim.phase_peaks.items():
        assert abs(error(est.phases[phase] - FIXED, value - FIXED)) <= TOLERANCE, (phase, est.phases, sim.phase_peaks)
    assert abs(error(est.peak_bytes - FIXED, sim.peak_bytes - FIXED)) <= 0.005, (est.phases, sim.phase_peaks)
    assert est.components["weights"] == pytest.approx(sim.weights, rel=0.01)


@pytest.mark.slow
def test_with_an_untied_embedding_the_root_group_costs_a_rank_more_than_accelerate_s_groups() -> None:
    setup = SETUP.with_(num_gpus=8)
    accelerate = simulate(BASE_CONFIG, setup).peak_bytes - FIXED
    layers = simulate(BASE_CONFIG, setup.with_(fsdp_wrap="layers")).peak_bytes - FIXED
    ours = [estimate(ARCH, setup.with_(fsdp_wrap=w)).peak_bytes - FIXED for w in ("accelerate", "layers")]
    assert layers > accelerate
    assert ours[1] - ours[0] == pytest.approx(layers - accelerate, rel=0.05)


def test_the_groups_fully_shard_made_are_the_decoder_layers_and_the_root() -> None:
    """Real (not fake) tensors: every decoder layer is its own FSDP module, the root holds the embedding,
    the final norm and lm_head; accelerate's wrapping gives the embedding and the tail groups of their own."""
    from torch.distributed.fsdp import FSDPModule

    from lrexplorer.memory.pytorch.realmodel import build_model
    from lrexplorer.memory.pytorch.simulate_parallel import fake_process_group, shard_model

    groups = {}
    for wrap in ("layers", "accelerate"):
        setup = SETUP.with_(num_gpus=2, fsdp_wrap=wrap)
        with fake_process_group(2) as mesh:
            model = shard_model(build_model(BASE_CONFIG, ARCH, setup.with_(device="cpu")), setup, mesh)
            groups[wrap] = {name or "root" for name, m in model.named_modules() if isinstance(m, FSDPModule)}
    layers = {f"model.layers.{i}" for i in range(ARCH.num_layers)}
    assert groups["layers"] == {"root", *layers}
    assert groups["accelerate"] >= {"root", "model.embed_tokens", *layers}


@pytest.mark.parametrize("wrap", ["accelerate", "layers"])
def test_the_wrap_changes_nothing_without_fsdp_and_a_bad_one_is_refused(wrap: str) -> None:
    arch = resolve_model("Llama-3.1-8B").architecture
    plain = TrainingSetup(num_gpus=8, zero_stage=3, bf16=True)
    assert estimate(arch, plain.with_(fsdp_wrap=wrap)).peak_bytes == estimate(arch, plain).peak_bytes
    with pytest.raises(FieldError) as err:
        validate(plain.with_(fsdp=True, zero_stage=0, fsdp_wrap="auto"), arch)
    assert err.value.field == "fsdp_wrap"
