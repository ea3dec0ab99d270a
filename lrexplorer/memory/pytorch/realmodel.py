"""The real objects of a training step: the transformers model, PEFT adapters and the Trainer's optimizer.

Shared by the measurement (real tensors on the CPU or a GPU) and the simulation (FakeTensorMode),
so both run exactly the code a `Trainer` run would. Imports torch/transformers/peft: load lazily.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.core.compat import uses_internals
from lrexplorer.memory.setup import TrainingSetup


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


OPTIMIZER_PURPOSE = "the simulated or measured memory step"
OPTIMIZER_USES = "it runs Trainer.create_optimizer on a view of the Trainer"


@dataclass
class OptimizerTrainerView:
    """What `Trainer.create_optimizer` (and the Trainer methods it calls on itself) reads and writes of the
    Trainer, and nothing else: a real Trainer would need a dataset and set up an accelerator and a device.
    Each attribute is one the installed transformers reads (a test holds this list to its source), so a
    release that reads more fails there, not in a user's simulation."""

    args: Any  # transformers.TrainingArguments
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer | None = None  # create_optimizer builds it only when None, and sets it
    optimizer_cls_and_kwargs: tuple[Any, Any] | None = None  # the Trainer's `optimizer_cls_and_kwargs=` (unset)

    def get_decay_parameter_names(self, model: torch.nn.Module) -> list[str]:
        from transformers import Trainer

        return Trainer.get_decay_parameter_names(self, model)  # type: ignore[arg-type]

    @staticmethod
    def get_optimizer_cls_and_kwargs(args: Any, model: torch.nn.Module | None = None) -> tuple[Any, Any]:
        from transformers import Trainer

        return Trainer.get_optimizer_cls_and_kwargs(args, model)  # type: ignore[arg-type]


def build_optimizer(model: torch.nn.Module, setup: TrainingSetup) -> torch.optim.Optimizer:
    """The optimizer `Trainer.create_optimizer` builds: its param groups, class, kwargs and bnb overrides.

    Runs the Trainer's own method on a view of the Trainer so no Trainer (and no dataloader, accelerator
    or device move) is needed; `UnsupportedVersion` for a transformers outside the supported range, or one
    whose method reads what the view lacks.
    """
    forget_bnb_overrides()
    view = OptimizerTrainerView(args=trainer_args(setup), model=model)
    with uses_internals("transformers", OPTIMIZER_PURPOSE, OPTIMIZER_USES):
        from transformers import Trainer

        return Trainer.create_optimizer(view, model)  # type: ignore[arg-type]


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
    from lrexplorer.catalogues import optimizers as optimizer_registry

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
) -> dict[str, Any]:
    """A batch as the collator gives it: token ids, an all-ones attention mask, labels = ids.

    padding_free / packing (TRL's collator): one row of every example back to back, position ids that
    restart with each example, the sequence boundaries and index, and no attention mask.
    """
    b, s = setup.per_device_train_batch_size, setup.example_length
    if setup.one_row:
        ids = torch.randint(0, arch.vocab_size, (1, b * s), device=device)
        bounds = torch.arange(0, b * s + 1, s, dtype=torch.int32, device=device)
        return {
            "input_ids": ids,
            "labels": ids.clone(),
            "position_ids": torch.arange(s, device=device).repeat(b)[None],
            "cu_seq_lens_q": bounds,
            "cu_seq_lens_k": bounds,
            "max_length_q": s,
            "max_length_k": s,
            "seq_idx": torch.arange(b, dtype=torch.int32, device=device).repeat_interleave(s)[None],
        }
    ids = torch.randint(0, arch.vocab_size, (b, s), device=device)
    batch = {"input_ids": ids, "labels": ids.clone()}
    if with_attention_mask:
        batch["attention_mask"] = torch.ones_like(ids)
    return batch


SFT_HEAD_OUTPUTS = ("log_probs", "entropy", "is_top1")  # what SFTTrainer asks of the fused head


def add_sft_head(model: torch.nn.Module) -> None:
    """Patch the model with TRL's fused LM head, as SFTTrainer does (on the base model under PEFT)."""
    base: Any = model.get_base_model() if hasattr(model, "get_base_model") else model  # type: ignore[operator]
    with uses_internals("trl", "the SFTTrainer memory model", "it patches the model with TRL's add_fused_lm_head"):
        from trl.trainer.utils import add_fused_lm_head

        add_fused_lm_head(base, outputs=SFT_HEAD_OUTPUTS)
