"""Each component of the analytic estimate against the real objects a Trainer run creates.

Weights and gradients come from a real model's tensors, optimizer states from the optimizer the
Trainer's own `create_optimizer` builds (after one update creates them), activations from what
autograd saves (saved_tensors_hooks), LoRA sizes from PEFT, 4-bit sizes from bitsandbytes.
"""

from __future__ import annotations

import pytest
import torch

from lrexplorer.catalogues.architecture import from_config
from lrexplorer.catalogues.optimizers import OPTIMIZERS
from lrexplorer.memory.analytic.estimate import estimate
from lrexplorer.memory.analytic.tensors import nf4_bytes
from lrexplorer.memory.pytorch.counting import SavedTensorCounter, optimizer_state_tensors
from lrexplorer.memory.pytorch.measure import init_optimizer_state, micro_batch_loss
from lrexplorer.memory.pytorch.realmodel import add_sft_head, build_model, build_optimizer, make_batch
from lrexplorer.memory.setup import TrainingSetup

LLAMA = {
    "model_type": "llama",
    "vocab_size": 512,
    "hidden_size": 64,
    "intermediate_size": 160,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
}
FAMILIES = {
    "llama": LLAMA,
    "llama-gqa-tied": {**LLAMA, "num_key_value_heads": 2, "tie_word_embeddings": True},
    "mistral": {**LLAMA, "model_type": "mistral", "num_key_value_heads": 2},
    "qwen2": {**LLAMA, "model_type": "qwen2", "num_key_value_heads": 2},
    "gemma2": {**LLAMA, "model_type": "gemma2", "head_dim": 16, "num_key_value_heads": 2},
    "phi3": {**LLAMA, "model_type": "phi3", "pad_token_id": 0},
}


def setup_of(**kw) -> TrainingSetup:
    base = {
        "device": "cpu",
        "dtype": "float32",
        "per_device_train_batch_size": 2,
        "max_length": 48,
        "trainer": "transformers",
    }
    return TrainingSetup(**{**base, **kw})


def nbytes(tensors) -> int:
    seen = {}
    for t in tensors:
        seen.setdefault(t.untyped_storage()._cdata, t.untyped_storage().nbytes())
    return sum(seen.values())


@pytest.mark.parametrize("optim", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("variant", [{}, {"tie_word_embeddings": True, "vocab_size": 5000}, {"lora_r": 4}])
def test_weights_and_optimizer_states_equal_the_trainers_objects(optim: str, dtype: str, variant: dict) -> None:
    variant = dict(variant)
    lora_r = variant.pop("lora_r", 0)
    config = {**LLAMA, **variant}
    arch = from_config(config)
    setup = setup_of(optim=optim, dtype=dtype, use_peft=lora_r > 0, lora_r=lora_r or 16)
    torch.manual_seed(0)
    model = build_model(config, arch, setup)
    optimizer = build_optimizer(model, setup)
    init_optimizer_state(model, optimizer)
    est = estimate(arch, setup)
    assert est.components["weights"] == nbytes(model.parameters())
    assert est.components["optimizer_states"] == nbytes(optimizer_state_tensors(optimizer))
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert est.trainable_params == sum(p.numel() for p in trainable)
    assert est.components["gradients"] == sum(p.numel() * p.element_size() for p in trainable)


@pytest.mark.parametrize("targets", [None, "all-linear", ("q_proj", "k_proj", "down_proj")])
@pytest.mark.parametrize("family", ["llama", "phi3"])
def test_lora_trainable_parameters_equal_peft(targets, family: str) -> None:
    from peft import LoraConfig, get_peft_model

    config = FAMILIES[family]
    arch = from_config(config)
    if family == "phi3" and isinstance(targets, tuple):
        targets = ("qkv_proj", "down_proj")
    setup = setup_of(use_peft=True, lora_r=8, lora_target_modules=targets)
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config))
        peft_model = get_peft_model(model, LoraConfig(r=8, target_modules=list(setup.target_modules(arch))))
    trainable, _total = peft_model.get_nb_trainable_parameters()
    assert estimate(arch, setup).trainable_params == trainable


@pytest.mark.parametrize("double_quant", [False, True])
@pytest.mark.parametrize("shape", [(4096, 4096), (3584, 18944), (1000, 64)])
def test_nf4_bytes_equal_bitsandbytes(shape: tuple[int, int], double_quant: bool) -> None:
    import bitsandbytes.functional as F

    w = torch.zeros(shape, dtype=torch.bfloat16)
    packed, state = F.quantize_4bit(w, blocksize=64, quant_type="nf4", compress_statistics=double_quant)
    real = packed.numel() * packed.element_size() + state.absmax.numel() * state.absmax.element_size()
    if double_quant:
        real += state.state2.absmax.numel() * state.state2.absmax.element_size()
    assert nf4_bytes(w.numel(), double_quant) == real


ACTIVATION_CASES = [
    ("llama", {}),
    ("llama", {"attn_implementation": "eager"}),
    ("llama", {"dtype": "bfloat16"}),
    ("llama", {"dtype": "bfloat16", "attn_implementation": "eager"}),
    ("llama", {"bf16": True}),
    ("llama", {"bf16": True, "attn_implementation": "eager"}),
    ("llama", {"activation_checkpointing": True}),
    ("llama", {"use_peft": True, "lora_r": 4, "dtype": "bfloat16"}),
    ("llama", {"use_peft": True, "lora_r": 4, "lora_target_modules": "all-linear"}),
    ("llama-gqa-tied", {}),
    ("llama-gqa-tied", {"attn_implementation": "eager", "dtype": "bfloat16"}),
    ("mistral", {"dtype": "bfloat16"}),
    ("qwen2", {}),
    ("qwen2", {"dtype": "bfloat16"}),
    ("gemma2", {"attn_implementation": "eager"}),
    ("gemma2", {"attn_implementation": "eager", "dtype": "bfloat16"}),
    ("phi3", {}),
    ("phi3", {"dtype": "bfloat16", "attn_implementation": "eager"}),
]


@pytest.mark.parametrize("trainer", ["transformers", "sft"])
@pytest.mark.parametrize("family, kw", ACTIVATION_CASES)
def test_activations_equal_what_autograd_saves(family: str, kw: dict, trainer: str) -> None:
    # sft: the model patched with TRL's fused LM head and SFTTrainer's loss over it.
    config = FAMILIES[family]
    arch = from_config(config)
    setup = setup_of(trainer=trainer, **kw)
    torch.manual_seed(0)
    model = build_model(config, arch, setup)
    if trainer == "sft":
        add_sft_head(model)
    counter = SavedTensorCounter(model)
    hooks = counter.watch_checkpoints(model) if setup.activation_checkpointing else []
    batch = make_batch(arch, setup)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if setup.bf16 else torch.autocast("cpu", enabled=False)
    with counter.context(), autocast:
        loss = micro_batch_loss(model, batch, fused=trainer == "sft")
    for h in hooks:
        h.remove()
    ours = estimate(arch, setup).components["activations"]
    # Ours leaves out the int64 token ids, labels and position ids autograd (or a checkpoint) keeps:
    # they are counted with the batch.
    tokens = setup.per_device_train_batch_size * setup.max_length
    assert counter.total - 4 * 8 * tokens - 1024 <= ours <= counter.total
    assert loss.requires_grad
