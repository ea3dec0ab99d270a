"""The ZeRO model-state figures per GPU against DeepSpeed's own estimators, called on real-size presets:
`estimate_zero2_model_states_mem_needs` (stage_1_and_2.py) and `estimate_zero3_model_states_mem_needs`
(stage3.py), with the largest layer found by DeepSpeed's `model_to_params` on the model transformers builds."""

from __future__ import annotations

import pytest

from lrexplorer.catalogues.architecture import from_config
from lrexplorer.catalogues.presets import find_preset
from lrexplorer.memory.analytic.estimate import estimate
from lrexplorer.memory.analytic.parallel import largest_module_params
from lrexplorer.memory.setup import TrainingSetup

pytest.importorskip("deepspeed")

PRESETS = ("Qwen2.5-0.5B", "Llama-3.1-8B", "Gemma-2-9B", "Phi-3-mini", "Llama-3.1-70B")
GPUS = (2, 8, 64)  # one node of 2 or 8 GPUs, eight nodes of 8
# A full fine-tune in bf16 mixed precision with Adam, as DeepSpeed's estimators assume.
SETUP = TrainingSetup(
    dtype="float32", bf16=True, optim="adamw_torch_fused", per_device_train_batch_size=1, max_length=8
)


@pytest.fixture(scope="module", params=PRESETS)
def preset(request):
    """(name, architecture, DeepSpeed's (total_params, largest_layer_params) of the meta-device model)."""
    import torch
    from deepspeed.runtime.zero.stage3 import model_to_params
    from transformers import AutoConfig, AutoModelForCausalLM

    config = find_preset(request.param).config
    cfg = AutoConfig.for_model(**{k: v for k, v in config.items() if k not in ("architectures", "torch_dtype")})
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg)
    _total, largest = model_to_params(model)  # its total dedups by data_ptr, which is 0 for every meta tensor
    total = sum(p.numel() for p in model.parameters())  # parameters() yields a tied weight once
    return request.param, from_config(config, request.param), total, largest


def model_states(arch, stage: int, n: int) -> dict[str, int]:
    c = estimate(arch, SETUP.with_(zero_stage=stage, num_gpus=n)).components
    return {k: c[k] for k in ("weights", "gradients", "optimizer_states", "communication_buffers")}


@pytest.mark.parametrize("n", GPUS)
def test_zero2_model_states_equal_deepspeed_s_estimate(preset, n):
    from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs

    name, arch, total, _largest = preset
    assert arch.n_params == total, name
    _cpu, gpu = estimate_zero2_model_states_mem_needs(
        total, num_gpus_per_node=min(n, 8), num_nodes=max(1, n // 8), cpu_offload=False
    )
    ours = model_states(arch, 2, n)
    # rel: Adam also keeps a 4-byte step count per tensor, which DeepSpeed leaves out.
    assert ours["weights"] + ours["gradients"] + ours["optimizer_states"] == pytest.approx(gpu, rel=1e-5), name


@pytest.mark.parametrize("n", GPUS)
def test_zero3_model_states_equal_deepspeed_s_estimate_plus_the_weight_shard(preset, n):
    from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs

    name, arch, total, largest = preset
    assert largest_module_params(arch) == largest, name
    _cpu, gpu, gathered = estimate_zero3_model_states_mem_needs(
        total, largest, num_gpus_per_node=min(n, 8), num_nodes=max(1, n // 8), cpu_offload=False
    )
    ours = model_states(arch, 3, n)
    # DeepSpeed counts 18 bytes per parameter over the GPUs and the gathered layer; each GPU also holds its
    # 2-byte partition of the 16-bit weights, which its estimator leaves out.
    sharded = ours["weights"] + ours["gradients"] + ours["optimizer_states"]
    assert sharded == pytest.approx(gpu - gathered + 2 * total / n, rel=1e-5), name
    assert ours["communication_buffers"] >= gathered
