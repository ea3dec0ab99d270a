"""The real objects of a training step: the transformers model, PEFT adapters and the Trainer's optimizer.

Shared by the measurement (real tensors on the CPU or a GPU) and the simulation (FakeTensorMode),
so both run exactly the code a `Trainer` run would. Imports torch/transformers/peft: load lazily.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import torch

from .architecture import Architecture
from .setup import TrainingSetup


def build_model(config: dict[str, Any], arch: Architecture, setup: TrainingSetup) -> torch.nn.Module:
    """The model the run trains, built from its config (random weights) in the run's dtype.

    Builds on the current default device (the caller sets it: cpu, cuda, or a FakeTensorMode).
    """
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg_values = {
        k: v for k, v in config.items() if k not in ("architectures", "torch_dtype", "dtype", "transformers_version")
    }
    cfg = AutoConfig.for_model(**cfg_values)
    cfg.use_cache = False  # the Trainer turns the KV cache off for training with checkpointing; no cache in training
    model = AutoModelForCausalLM.from_config(
        cfg, dtype=getattr(torch, setup.dtype), attn_implementation=setup.attention(arch)
    )
    if setup.activation_checkpointing:
        model.activation_checkpointing_enable()  # transformers 5 name; non-reentrant by default
    if setup.lora:
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=setup.lora_r,
            lora_alpha=2 * setup.lora_r,
            lora_dropout=0.0,
            target_modules=list(setup.target_modules(arch)),
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)
    model.train()
    return model


def trainer_args(setup: TrainingSetup, output_dir: str = "/tmp/lrexplorer-memory") -> Any:
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=output_dir,
        optim=setup.optim,
        per_device_train_batch_size=setup.per_device_train_batch_size,
        gradient_accumulation_steps=setup.gradient_accumulation_steps,
        report_to=[],
        use_cpu=setup.device == "cpu",
        bf16=setup.bf16,
        fp16=setup.fp16,
    )


def build_optimizer(model: torch.nn.Module, setup: TrainingSetup) -> torch.optim.Optimizer:
    """The optimizer `Trainer.create_optimizer` builds: its param groups, class, kwargs and bnb overrides.

    Runs the Trainer's own method on a stand-in object so no Trainer (and no dataloader, accelerator
    or device move) is needed.
    """
    from transformers import Trainer

    forget_bnb_overrides()
    stand_in = SimpleNamespace(optimizer=None, optimizer_cls_and_kwargs=None, args=trainer_args(setup))
    stand_in.get_decay_parameter_names = lambda m: Trainer.get_decay_parameter_names(stand_in, m)  # type: ignore[arg-type]
    stand_in.get_optimizer_cls_and_kwargs = Trainer.get_optimizer_cls_and_kwargs
    return Trainer.create_optimizer(stand_in, model)  # type: ignore[arg-type]


def forget_bnb_overrides() -> None:
    """Empty bitsandbytes' process-wide table of per-parameter overrides.

    The Trainer registers "optimize embeddings in float32" there for every 8-bit optimizer it builds, and
    bitsandbytes keys part of that table by (group index, parameter index), so an override left by an
    earlier model applies to whatever tensor sits at that position in the next one. A training process
    builds one optimizer; a process that builds several (the app, the tests) must start each afresh.
    """
    import importlib.util

    if importlib.util.find_spec("bitsandbytes") is None:
        return
    from bitsandbytes.optim import GlobalOptimManager

    GlobalOptimManager.get_instance().initialize()


@contextlib.contextmanager
def bnb_cpu_kernels_traced(setup: TrainingSetup) -> Iterator[None]:
    """Run bitsandbytes' CPU optimizer kernels as plain Python calls, so that a dispatch-mode tracker
    (MemTracker, FakeTensorMode) sees the torch operations inside them.

    Through the dispatcher a custom op is one opaque call: the tracker sees its outputs (none, it
    updates in place) but not the float32 copies its CPU kernel allocates. The functions called are the
    very kernels bitsandbytes registers for the CPU, so the step does the same work.
    """
    from .. import optimizers as optimizer_registry

    if setup.device != "cpu" or not optimizer_registry.get(setup.optim).bitsandbytes:
        yield
        return
    from unittest import mock

    import bitsandbytes  # noqa: F401  (registers the torch.ops.bitsandbytes namespace)
    from bitsandbytes.backends.cpu import ops as cpu_ops

    ops = torch.ops.bitsandbytes
    with (
        mock.patch.object(ops, "optimizer_update_32bit", cpu_ops._optimizer_update_32bit_cpu),
        mock.patch.object(ops, "optimizer_update_8bit_blockwise", cpu_ops._optimizer_update_8bit_blockwise_cpu),
    ):
        yield


def make_batch(
    arch: Architecture, setup: TrainingSetup, device: Any = None, with_attention_mask: bool = True
) -> dict[str, torch.Tensor]:
    """A batch as a causal-LM collator gives it: token ids, an all-ones attention mask, labels = ids."""
    b, s = setup.per_device_train_batch_size, setup.max_length
    ids = torch.randint(0, arch.vocab_size, (b, s), device=device)
    batch = {"input_ids": ids, "labels": ids.clone()}
    if with_attention_mask:
        batch["attention_mask"] = torch.ones_like(ids)
    return batch
