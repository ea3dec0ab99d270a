"""fp16 on the CPU, decided as transformers and accelerate behave there: accepted, and ignored."""

from __future__ import annotations

import torch

from lrexplorer.memory.analytic.estimate import estimate
from lrexplorer.memory.model_source import resolve_model
from lrexplorer.memory.setup import TrainingSetup
from lrexplorer.rules.registry import BY_NAME


def test_the_trainer_accepts_fp16_on_the_cpu_and_computes_in_float32(tmp_path, tiny_llama):
    """TrainingArguments and Trainer take fp16 with use_cpu, but accelerate turns on fp16 autocast and its
    GradScaler for non-CPU devices only: a forward under the Trainer's autocast stays float32, and float16
    weights fully fine-tuned train (there is no scaler to refuse their float16 gradients). So the rule is
    advice, never a refusal, and the grad-scaler rule does not apply on the CPU."""
    from transformers import Trainer, TrainingArguments

    args = TrainingArguments(str(tmp_path), fp16=True, use_cpu=True, max_steps=1, report_to="none", disable_tqdm=True)
    model = tiny_llama()
    trainer = Trainer(model=model, args=args)
    assert trainer.accelerator.mixed_precision == "fp16"  # accepted ...
    assert trainer.accelerator.native_amp is False and trainer.accelerator.scaler is None  # ... and ignored
    ids = torch.randint(0, 64, (2, 8))
    with trainer.autocast_smart_context_manager():
        assert model(input_ids=ids).logits.dtype == torch.float32

    half = tiny_llama().to(torch.float16)
    rows = [{"input_ids": r, "labels": r} for r in torch.randint(0, 64, (4, 8))]
    Trainer(model=half, args=args, train_dataset=rows).train()  # no "Attempting to unscale FP16 gradients"

    assert BY_NAME["fp16_ignored_on_cpu"].severity == "advice"
    cpu = TrainingSetup(device="cpu", dtype="float16", fp16=True)
    assert BY_NAME["fp16_with_float16_weights"](_subject(cpu)) is None
    assert BY_NAME["fp16_with_float16_weights"](_subject(cpu.with_(device="cuda"))) is not None


def _subject(setup: TrainingSetup):
    from lrexplorer.memory.setup import subject

    return subject(setup, resolve_model("SmolLM2-135M").architecture)


def test_the_estimate_of_fp16_on_the_cpu_is_the_step_without_it():
    arch = resolve_model("SmolLM2-135M").architecture
    plain = TrainingSetup(device="cpu", dtype="float32", max_length=256)
    on, off = estimate(arch, plain.with_(fp16=True)), estimate(arch, plain)
    assert (on.peak_bytes, on.components) == (off.peak_bytes, off.components)
    # On a GPU fp16 is real mixed precision (16-bit activations, autocast's weight copies): the step differs.
    gpu = plain.with_(device="cuda")
    assert estimate(arch, gpu.with_(fp16=True)).components != estimate(arch, gpu).components
