"""Build the TRL `SFTTrainer` of a run from its spec: the one place model, data and config meet.

`LrxSFTTrainer` adds to TRL's trainer only what the run folder needs: the schedules catalogue's
scheduler builder (so torch class names work and every schedule is built by the code the Schedules
page is tested against), token/sample counters kept as tensors until log time, and a non-finite loss
flag checked once per optimizer step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from trl import SFTConfig, SFTTrainer

from lrexplorer.catalogues import builtin
from lrexplorer.core.facts import Facts
from lrexplorer.rules.attention import resolve_attention
from lrexplorer.runs.folder import store
from lrexplorer.runs.spec import RunSpec
from lrexplorer.runs.training import sources
from lrexplorer.schedules.build import CatalogueSchedulerMixin
from lrexplorer.tuning.range_trainer import RangeTestSchedulerMixin


class LrxSFTTrainer(RangeTestSchedulerMixin, CatalogueSchedulerMixin, SFTTrainer):
    """TRL's SFTTrainer with the catalogue scheduler and the counters the run folder records; setting
    `lrx_range_test` (a range-test run) replaces the scheduler by the range test's."""

    def __init__(self, *args: Any, lrx_schedule: tuple[str, dict] | None = None, **kwargs: Any) -> None:
        self.lrx_schedule = lrx_schedule
        self._lrx_tokens: Any = 0
        self._lrx_samples = 0
        self._lrx_nonfinite: Any = None
        self._lrx_lr: float | None = None
        super().__init__(*args, **kwargs)

    def training_step(self, model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> Any:
        if self.is_deepspeed_enabled:
            # A scheduler DeepSpeed's engine owns (the _offload presets, whose optimizer DeepSpeed builds) steps
            # inside the update's last backward, before the Trainer reads the LR it logs: read it here, while it
            # is still the LR this update uses.
            self._lrx_lr = super()._get_learning_rate()
        loss = super().training_step(model, inputs, num_items_in_batch)
        mask = inputs.get("attention_mask")
        ids = inputs.get("input_ids")
        # Tensors, not .item(): no device sync per micro-batch; read once per log.
        self._lrx_tokens = self._lrx_tokens + (
            mask.sum() if mask is not None else (ids.numel() if ids is not None else 0)
        )
        bounds = inputs.get("cu_seq_lens_q")  # padding_free: one row holds every example, these mark them
        self._lrx_samples += (
            int(bounds.numel()) - 1 if bounds is not None else (int(ids.shape[0]) if ids is not None else 0)
        )
        bad = ~torch.isfinite(loss.detach())
        self._lrx_nonfinite = bad if self._lrx_nonfinite is None else (self._lrx_nonfinite | bad)
        self._lrx_last_loss = loss
        return loss

    def _get_learning_rate(self) -> float:
        return self._lrx_lr if self._lrx_lr is not None else super()._get_learning_rate()

    def lrx_take_counts(self) -> tuple[int, int]:
        tokens = int(self._lrx_tokens.item() if torch.is_tensor(self._lrx_tokens) else self._lrx_tokens)
        samples = self._lrx_samples
        self._lrx_tokens, self._lrx_samples = 0, 0
        return tokens, samples

    def lrx_take_nonfinite(self) -> str | None:
        """'nan' or 'inf' if a micro-batch of the last optimizer step had a non-finite loss."""
        flag, self._lrx_nonfinite = self._lrx_nonfinite, None
        if flag is None or not bool(flag.item()):
            return None
        return "nan" if torch.isnan(self._lrx_last_loss).item() else "inf"


def build_trainer(
    spec: RunSpec, run_dir: Path, facts: Facts, callbacks: list[Any]
) -> tuple[LrxSFTTrainer, dict[str, Any]]:
    """The trainer of a run, and facts to record (attention asked for, device, dataset sizes)."""
    values = spec.values
    on_cpu = facts.on_cpu(values["use_cpu"])
    attn = resolve_attention(values, facts)
    tokenizer = sources.load_tokenizer(values)
    # A built-in model's base is kept in the run folder for a LoRA run, so its adapter loads with plain peft.
    base_dir = run_dir / store.BASE if values["use_peft"] and builtin.is_builtin(values["model"]) else None
    model = sources.load_model(values, tokenizer, attn, base_dir)
    if spec.quantization_kwargs() is not None:
        from peft import prepare_model_for_kbit_training

        # Freezes the quantized weights, keeps norms in float32 and lets checkpointing reach the inputs.
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=values["activation_checkpointing"],
            gradient_checkpointing_kwargs=values["activation_checkpointing_kwargs"],
        )
    train, evaluation = sources.load_splits(values)
    kwargs = spec.sft_kwargs(use_cpu=on_cpu)
    config = SFTConfig(output_dir=str(run_dir), disable_tqdm=True, **kwargs)
    peft_config = None
    peft_kwargs = spec.peft_kwargs()
    if peft_kwargs is not None:
        from peft import LoraConfig

        peft_config = LoraConfig(**peft_kwargs)
    trainer = LrxSFTTrainer(
        model=model,
        args=config,
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
        lrx_schedule=spec.trainer_schedule(),
    )
    trained: Any = trainer.model
    info = {
        "attn_requested": values["attn_implementation"],
        "attn_implementation": getattr(trained.config, "_attn_implementation", None),
        "device": "cpu" if on_cpu else f"cuda ({torch.cuda.get_device_name(0)})",
        "train_examples": len(train) if hasattr(train, "__len__") else None,
        "eval_examples": len(evaluation) if evaluation is not None and hasattr(evaluation, "__len__") else None,
        "parameters": sum(p.numel() for p in trained.parameters()),
        "trainable_parameters": sum(p.numel() for p in trained.parameters() if p.requires_grad),
        "quantization": _quantization_label(spec),
        # What accelerate set up from the spec: NO / MULTI_CPU / MULTI_GPU (DDP), FSDP or DEEPSPEED.
        "distributed_type": str(trainer.accelerator.distributed_type.value),
        "num_processes": trainer.accelerator.num_processes,
    }
    return trainer, info


def _quantization_label(spec: RunSpec) -> str | None:
    quant = spec.quantization_kwargs()
    if quant is None:
        return None
    if not quant.get("load_in_4bit"):
        return "8-bit (LLM.int8)"
    double = " + double quant" if quant["bnb_4bit_use_double_quant"] else ""
    return f"4-bit {quant['bnb_4bit_quant_type']}{double}, compute {quant['bnb_4bit_compute_dtype']}"
