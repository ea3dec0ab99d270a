"""The optimizer registry against transformers' Trainer and the real optimizers' steps.

Names and classes come from `Trainer.get_optimizer_cls_and_kwargs`; the state and the step's
temporaries from a real step on the CPU counted by torch's MemTracker (measured engine) or under
FakeTensorMode (simulated engine).
"""

from __future__ import annotations

import importlib
from dataclasses import replace

import pytest

from lrexplorer.catalogues import optimizers
from lrexplorer.catalogues.architecture import from_config
from lrexplorer.catalogues.optimizer_state import Tensor
from lrexplorer.catalogues.optimizers import OPTIMIZERS, TRAIN_FORM_CHOICES
from lrexplorer.core.fields import FieldError
from lrexplorer.memory.advice.savings import savings
from lrexplorer.memory.analytic.estimate import estimate
from lrexplorer.memory.setup import TrainingSetup

# Small enough for a step in a second or two, with tensors on both sides of bitsandbytes' 4096-value
# threshold and a vocabulary matrix that dominates the step's temporaries.
CONFIG = {
    "model_type": "llama",
    "vocab_size": 2048,
    "hidden_size": 96,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "tie_word_embeddings": False,
}
ARCH = from_config(CONFIG)
LORA = {"use_peft": True, "lora_r": 8}


def cpu_setup(**kw) -> TrainingSetup:
    base = {"device": "cpu", "per_device_train_batch_size": 1, "max_length": 16, "attn_implementation": "sdpa"}
    return TrainingSetup(**{**base, **kw})


def test_names_are_transformers_optimizer_names() -> None:
    from transformers.training_args import OptimizerNames

    assert set(OPTIMIZERS) <= {o.value for o in OptimizerNames}
    assert all(name == entry.name for name, entry in OPTIMIZERS.items())


def test_the_train_form_offers_the_registry_choices() -> None:
    from lrexplorer.catalogues.params import CATALOGUE

    assert CATALOGUE["optim"].choices == TRAIN_FORM_CHOICES
    assert set(TRAIN_FORM_CHOICES) <= set(OPTIMIZERS)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_each_entry_names_what_the_trainer_builds(name: str) -> None:
    from transformers import Trainer, TrainingArguments

    entry = OPTIMIZERS[name]
    cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(TrainingArguments(output_dir=None, optim=name, use_cpu=True))
    module, _, attr = entry.cls.rpartition(".")
    assert getattr(importlib.import_module(module), attr) is cls
    for key in ("fused", "optim_bits", "is_paged", "scale_parameter", "relative_step", "momentum", "centered"):
        assert kwargs.get(key) == entry.kwargs.get(key), key
    assert entry.bitsandbytes == cls.__module__.startswith("bitsandbytes")


@pytest.mark.parametrize("name", TRAIN_FORM_CHOICES)
def test_every_train_form_optimizer_is_estimable_on_its_devices(name: str) -> None:
    from lrexplorer.core.facts import Facts
    from lrexplorer.core.hardware import CpuInfo, Hardware
    from lrexplorer.runs.estimates import memory_check
    from lrexplorer.runs.spec import RunSpec

    entry = OPTIMIZERS[name]
    assert entry.devices
    for device in entry.devices:
        for kw in ({}, {"dtype": "float32", "bf16": True}, LORA, {**LORA, "load_in_4bit": True}):
            est = estimate(ARCH, TrainingSetup(device=device, optim=name, **kw))
            assert est.peak_bytes > est.components["weights"]
    # The Train page's pre-flight, on this machine's CPU, gives a figure instead of "unavailable".
    cpu = Facts(gpu_capabilities=(), cpu_bf16=True, flash_attn=False)
    hw = Hardware(gpus=[], cpu=CpuInfo("test CPU", 2, 2, 16 * 2**30, 16 * 2**30))
    check = memory_check(RunSpec.from_dict({"optim": name}, cpu).values, cpu, hw)
    assert check.unavailable is None and check.peak_bytes


STEP_CASES = [(name, "bfloat16") for name in OPTIMIZERS] + [
    (name, "float32") for name in ("adamw_torch", "adamw_8bit", "adagrad", "lion_8bit", "ademamix", "sgd")
]


@pytest.mark.slow
@pytest.mark.parametrize("name, dtype", STEP_CASES)
def test_state_and_step_temporaries_equal_a_real_step(name: str, dtype: str) -> None:
    from lrexplorer.memory.pytorch.measure import measure_step

    setup = cpu_setup(optim=name, dtype=dtype)  # trainer sft: a real SFTTrainer step
    real = measure_step(CONFIG, ARCH, setup)
    est = estimate(ARCH, setup)
    assert est.components["optimizer_states"] == real.optimizer_states
    # The optimizer-step phase: weights + gradients + state + the step's temporaries. What is left is
    # gradient clipping's per-tensor norms (a few hundred bytes); one float32 copy of the largest
    # tensor would be 786,432.
    assert abs(est.phases["optimizer_step"] - real.phase_peaks["optimizer_step"]) <= 512


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lion_8bit", "rmsprop"])
def test_simulated_step_counts_the_same_optimizer_memory(name: str) -> None:
    from lrexplorer.memory.pytorch.measure import measure_step
    from lrexplorer.memory.pytorch.simulate import simulate_step

    # The plain Trainer's step replayed both ways: the same code with real and with fake tensors.
    setup = cpu_setup(optim=name, dtype="bfloat16", trainer="transformers")
    real = measure_step(CONFIG, ARCH, setup)
    fake = simulate_step(CONFIG, ARCH, setup)
    assert fake.optimizer_states == real.optimizer_states
    # The simulated batch has no attention mask (8 bytes a token): the only difference.
    mask = 8 * setup.per_device_train_batch_size * setup.max_length
    assert real.phase_peaks["optimizer_step"] - fake.phase_peaks["optimizer_step"] == mask


@pytest.mark.parametrize("name", [n for n in OPTIMIZERS if n.startswith("paged_")])
def test_paged_optimizers_fall_back_to_ordinary_state_on_the_cpu(name: str) -> None:
    import torch
    from transformers import Trainer, TrainingArguments

    # 120,000 values: bitsandbytes pages it on CUDA (from 100,000 values on); on the CPU it warns and
    # allocates ordinary tensors, which is what the estimate models for device cpu.
    from lrexplorer.memory.pytorch.realmodel import forget_bnb_overrides

    forget_bnb_overrides()  # an earlier test's Trainer may have left an override at position (0, 0)
    cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(TrainingArguments(output_dir=None, optim=name, use_cpu=True))
    layer = torch.nn.Linear(300, 400, bias=False)
    opt = cls(layer.parameters(), **kwargs)
    layer.weight.grad = torch.zeros_like(layer.weight)
    with pytest.warns(UserWarning, match="Paged optimizers are not supported on CPU"):
        opt.step()
    state = opt.state[layer.weight]
    assert not any(getattr(v, "is_paged", False) for v in state.values())
    storages = {v.untyped_storage()._cdata: v.untyped_storage().nbytes() for v in state.values() if torch.is_tensor(v)}
    assert sum(storages.values()) == OPTIMIZERS[name].state_bytes([Tensor(400, 300)], 4, "cpu")


@pytest.mark.parametrize("name", [n for n, o in OPTIMIZERS.items() if getattr(o.state, "step", "") == "host"])
def test_unfused_torch_step_counters_live_on_the_host(name: str) -> None:
    import torch
    from transformers import Trainer, TrainingArguments

    from lrexplorer.memory.pytorch.realmodel import build_model

    # Parameters on another device (meta stands in for a GPU): the real optimizer keeps `step` on the CPU.
    cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(TrainingArguments(output_dir=None, optim=name, use_cpu=True))
    p = torch.nn.Parameter(torch.zeros(4, 8, device="meta"))
    opt = cls([p], **kwargs)
    p.grad = torch.zeros_like(p)
    opt.step()
    state = opt.state[p]
    assert state["step"].device.type == "cpu"
    assert all(v.device.type == "meta" for k, v in state.items() if k != "step")
    # So on a GPU the estimate leaves the 4-byte counters out of the GPU's optimizer state.
    cpu, cuda = (
        estimate(ARCH, TrainingSetup(device=d, optim=name)).components["optimizer_states"] for d in ("cpu", "cuda")
    )
    with torch.device("meta"):
        n_tensors = len(list(build_model(CONFIG, ARCH, cpu_setup()).parameters()))
    assert cpu - cuda == 4 * n_tensors


def test_an_optimizer_is_refused_on_a_device_it_does_not_run_on(monkeypatch: pytest.MonkeyPatch) -> None:
    gpu_only = replace(OPTIMIZERS["lion_32bit"], devices=("cuda",))
    monkeypatch.setitem(optimizers.OPTIMIZERS, "lion_32bit", gpu_only)
    estimate(ARCH, TrainingSetup(device="cuda", optim="lion_32bit"))
    with pytest.raises(FieldError, match="lion_32bit runs on cuda") as info:
        estimate(ARCH, TrainingSetup(device="cpu", optim="lion_32bit"))
    assert info.value.field == "optim"


def test_savings_count_an_optimizer_as_lighter_only_when_it_keeps_less_state() -> None:
    def optimizer_trick(report, group: str):
        return next((s for s in getattr(report, group) if s.trick.key == "optim"), None)

    lion = savings(ARCH, TrainingSetup(optim="lion_8bit"))
    chosen = optimizer_trick(lion, "chosen")
    assert chosen is not None and chosen.saved_bytes > 0
    # AdEMAMix keeps three float32 states: heavier than AdamW, so 8-bit AdamW is suggested on top.
    ademamix = savings(ARCH, TrainingSetup(optim="ademamix"))
    assert optimizer_trick(ademamix, "chosen") is None
    more = optimizer_trick(ademamix, "more")
    assert more is not None and more.setup.optim == "adamw_8bit" and more.saved_bytes > 0
    # Lion's one float32 momentum weighs what AdamW's two bfloat16 moments weigh: no lighter there.
    bf16_lion = savings(ARCH, TrainingSetup(optim="lion_32bit", dtype="bfloat16"))
    assert optimizer_trick(bf16_lion, "chosen") is None
    fp32_lion = savings(ARCH, TrainingSetup(optim="lion_32bit", dtype="float32"))
    assert optimizer_trick(fp32_lion, "chosen") is not None


def test_an_8bit_optimizer_built_after_another_model_keeps_8bit_state() -> None:
    """bitsandbytes keeps the Trainer's "embeddings in float32" override per (group, index) for the whole
    process; the next model's tensor at that position must not inherit it."""
    import torch

    from lrexplorer.memory.pytorch.realmodel import build_optimizer

    setup = TrainingSetup(optim="adamw_8bit", device="cpu")
    first = torch.nn.Sequential(torch.nn.Embedding(1000, 300), torch.nn.Linear(300, 400, bias=False))
    for p in first.parameters():
        p.grad = torch.zeros_like(p)
    build_optimizer(first, setup).step()  # its first step files the override under (group 0, index 0)
    second = torch.nn.Sequential(torch.nn.Linear(300, 400, bias=False))
    opt = build_optimizer(second, setup)
    weight = second[0].weight
    weight.grad = torch.zeros_like(weight)
    opt.step()
    assert opt.state[weight]["state1"].dtype == torch.uint8
