"""Memory of one real steady-state step of TRL's SFTTrainer, counted by PyTorch itself.

The truth an SFTTrainer estimate is held to. A real `trl.SFTTrainer` (its dataset preparation and
collator, its fused-head loss, the Trainer's loop with accelerate's optimizer wrapper) trains two
steps on a small dataset of random token ids shaped as the setup says. Step 2, with the optimizer
state alive and the gradients set to None by step 1, is tracked from `on_step_begin` to `on_step_end`:
torch's MemTracker on the CPU (every tensor storage), the allocator's peak on a CUDA GPU. The
micro-batches the Trainer fetched before `on_step_begin` are counted as live from the start.

Phases: forward until `compute_loss` returns, backward until `training_step` returns, then gradient
clipping and the optimizer step. Components as in `measure.py`.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Collection, Iterator
from typing import Any

import torch

from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.memory.pytorch.counting import PhaseTracker, SavedTensorCounter, nbytes, optimizer_state_tensors
from lrexplorer.memory.results import Progress, StepMemory
from lrexplorer.memory.setup import TrainingSetup

# Words of the plain-text rows: each is at least one token of the built-in tokenizer.
TEXT_WORDS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa", "lambda", "sigma")


def sft_dataset(arch: Architecture, setup: TrainingSetup, seed: int = 0, text_rows: bool = False) -> Any:
    """Pre-tokenised examples of `setup.example_length` random ids (half that under packing, so that two
    documents share each packed row), with a completion mask when labels are masked. `text_rows`: plain
    `text` rows of `max_length` random words instead, longer than max_length once SFTTrainer has tokenised
    them (and added EOS), so that it truncates every one, as a script with a text dataset does."""
    from datasets import Dataset

    length = setup.example_length
    doc = length // 2 if setup.packing and length % 2 == 0 and length >= 2 else length
    per_step = setup.per_device_train_batch_size * setup.gradient_accumulation_steps * (length // doc)
    generator = torch.Generator().manual_seed(seed)
    if text_rows:
        picks = torch.randint(0, len(TEXT_WORDS), (3 * per_step, setup.max_length), generator=generator).tolist()
        return Dataset.from_dict({"text": [" ".join(TEXT_WORDS[i] for i in row) for row in picks]})
    ids = torch.randint(0, arch.vocab_size, (3 * per_step, doc), generator=generator).tolist()
    data: dict[str, Any] = {"input_ids": ids}
    if setup.masked_label_fraction:
        prompt = int(doc * setup.masked_label_fraction)
        data["completion_mask"] = [[0] * prompt + [1] * (doc - prompt)] * len(ids)
    return Dataset.from_dict(data)


# The fields an SFTTrainer script may leave to TRL's SFTConfig, whose defaults differ from lrexplorer's.
LEFT_TO_TRL = ("bf16", "activation_checkpointing")


def sft_config(setup: TrainingSetup, output_dir: str, seed: int = 0, left_to_trl: Collection[str] = ()) -> Any:
    """The SFTConfig of the measured run: the setup's fields, two steps, nothing logged or saved. The fields
    in `left_to_trl` (of LEFT_TO_TRL) are not passed: SFTConfig sets them as it does for a script without them."""
    from trl import SFTConfig

    precision: dict[str, Any] = {"bf16": setup.bf16, "activation_checkpointing": setup.activation_checkpointing}
    return SFTConfig(
        **{k: v for k, v in precision.items() if k not in left_to_trl},
        output_dir=output_dir,
        max_steps=2,
        per_device_train_batch_size=setup.per_device_train_batch_size,
        gradient_accumulation_steps=setup.gradient_accumulation_steps,
        # TRL refuses max_length with padding_free unless it packs: the examples are already that long.
        max_length=None if setup.padding_free and not setup.packing else setup.max_length,
        packing=setup.packing,
        padding_free=setup.padding_free,
        completion_only_loss=bool(setup.masked_label_fraction),
        optim=setup.optim,
        fp16=setup.fp16,
        use_cpu=setup.device == "cpu",
        report_to=[],
        logging_strategy="no",
        save_strategy="no",
        disable_tqdm=True,
        seed=seed,
    )


def _lora_config(arch: Architecture, setup: TrainingSetup) -> Any:
    if not setup.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=setup.lora_r,
        lora_alpha=2 * setup.lora_r,
        lora_dropout=0.0,
        target_modules=list(setup.target_modules(arch)),
        task_type="CAUSAL_LM",
    )


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    from datasets.utils import logging as ds_logging

    was = ds_logging.is_progress_bar_enabled()
    ds_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            ds_logging.enable_progress_bar()


class _StepWatch:
    """Tracks the trainer's second optimizer step: MemTracker in, phases marked, components gathered."""

    def __init__(self, trainer: Any, setup: TrainingSetup, count_saved: bool = True) -> None:
        self.trainer = trainer
        self.setup = setup
        # Counting what autograd saves needs saved-tensor hooks, under which a Function gets its saved
        # parameters back as plain tensors (DeepSpeed ZeRO-3 then no longer recognises TRL's LM-head weight).
        self.count_saved = count_saved
        self.batches: list[Any] = []
        self.tracker: PhaseTracker | None = None
        self.counter: SavedTensorCounter | None = None
        self.entered = False
        self.first_forward = False
        self.done = False
        self.hooks: list[Any] = []
        self.figures: dict[str, int] = {}
        fetch, loss, step = trainer.get_batch_samples, trainer.compute_loss, trainer.training_step

        def get_batch_samples(*args: Any, **kwargs: Any) -> Any:
            out = fetch(*args, **kwargs)
            self.batches = out[0]
            return out

        def compute_loss(*args: Any, **kwargs: Any) -> Any:
            saving = self.counter.context() if (self.first_forward and self.counter) else contextlib.nullcontext()
            self.first_forward = False
            with saving:
                result = loss(*args, **kwargs)
            if self.entered and self.tracker:
                self.tracker.end_phase("forward")
            return result

        def training_step(*args: Any, **kwargs: Any) -> Any:
            result = step(*args, **kwargs)
            if self.entered and self.tracker:
                self.tracker.end_phase("backward")
            return result

        trainer.get_batch_samples = get_batch_samples
        trainer.compute_loss = compute_loss
        trainer.training_step = training_step

    def begin(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        # accelerate's wrapper holds the torch optimizer; under DeepSpeed ZeRO it holds DeepSpeed's optimizer,
        # which holds the torch optimizer of this rank's float32 partitions.
        inner: Any = optimizer
        while not hasattr(inner, "_optimizer_step_pre_hooks") and hasattr(inner, "optimizer"):  # not yet torch's
            inner = inner.optimizer
        self.figures["weights"] = nbytes(model.parameters())
        self.figures["optimizer_states"] = nbytes(optimizer_state_tensors(inner))
        tensors = [v for batch in self.batches for v in batch.values() if isinstance(v, torch.Tensor)]
        if self.count_saved:
            self.counter = SavedTensorCounter(model)
            if self.setup.activation_checkpointing:
                self.hooks = self.counter.watch_checkpoints(model)

        def grab_grads(*_: Any) -> None:
            self.figures["gradients"] = nbytes(p.grad for p in model.parameters() if p.grad is not None)

        self.hooks.append(inner.register_step_pre_hook(grab_grads))
        self.tracker = PhaseTracker(self.setup.device, model, inner, tensors)
        self.first_forward = True
        self.tracker.__enter__()
        self.entered = True

    def end(self) -> None:
        if not self.entered or self.tracker is None:
            return
        self.tracker.end_phase("optimizer_step")
        self.tracker.__exit__(None, None, None)
        self.entered = False
        self.done = True
        for hook in self.hooks:
            hook.remove()


def measure_sft_step(
    config: dict[str, Any],
    arch: Architecture,
    setup: TrainingSetup,
    progress: Progress | None = None,
    seed: int = 0,
    left_to_trl: Collection[str] = (),
    text_rows: bool = False,
) -> StepMemory:
    """Peak and components of step 2 of a real SFTTrainer run on `setup.device` (the CPU or a CUDA GPU).

    `left_to_trl`: fields not passed to SFTConfig (its defaults decide them, and the result's notes say
    what it ran with); `text_rows`: a plain-text dataset that SFTTrainer tokenises and truncates."""
    unknown = set(left_to_trl) - set(LEFT_TO_TRL)
    if unknown:
        raise ValueError(f"only {', '.join(LEFT_TO_TRL)} can be left to SFTConfig, not {', '.join(sorted(unknown))}")
    from transformers import PrinterCallback, TrainerCallback
    from trl import SFTTrainer

    from lrexplorer.catalogues.builtin import load_tokenizer
    from lrexplorer.memory.pytorch.realmodel import bnb_cpu_kernels_traced, build_model

    say = progress or (lambda msg, frac: None)
    start = time.perf_counter()
    torch.manual_seed(seed)
    say("building the model", 0.05)
    model = build_model(config, arch, setup.with_(activation_checkpointing=False, use_peft=False))

    class Watch(TrainerCallback):
        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step == 1:
                say("tracked step", 0.6)
                watch.begin(kwargs["model"], kwargs["optimizer"])

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step == 2:
                watch.end()

    say("building the SFTTrainer", 0.2)
    with tempfile.TemporaryDirectory(prefix="lrexplorer-sft-") as out, _quiet_datasets():
        trainer = SFTTrainer(
            model=model,  # type: ignore[arg-type]
            args=sft_config(setup, out, seed, left_to_trl),
            train_dataset=sft_dataset(arch, setup, seed, text_rows),
            processing_class=load_tokenizer(),
            peft_config=_lora_config(arch, setup),
            callbacks=[Watch()],
        )
        trainer.remove_callback(PrinterCallback)  # the end-of-training summary: stdout belongs to the caller
        # What SFTConfig made of the fields left to it is what the step runs (and what the counter must know).
        ran = {k: bool(getattr(trainer.args, k)) for k in LEFT_TO_TRL}
        watch = _StepWatch(trainer, setup.with_(**ran))
        say("real step 1 of 2", 0.4)
        try:
            # bitsandbytes' CPU optimizer kernels as plain calls, so that the tracker sees their float32
            # temporaries (the memory is real either way; through the dispatcher the tracker misses it).
            with bnb_cpu_kernels_traced(setup):
                trainer.train()
        finally:
            watch.end()
    if not watch.done or watch.tracker is None or watch.counter is None:
        raise RuntimeError("the SFTTrainer run ended before its second step")
    say("done", 1.0)
    peaks = watch.tracker.peaks
    trained: Any = trainer.model
    return StepMemory(
        engine="measured",
        device=setup.device,
        peak_bytes=max(peaks.values()),
        phase_peaks=dict(peaks),
        weights=watch.figures["weights"],
        gradients=watch.figures.get("gradients", 0),
        optimizer_states=watch.figures["optimizer_states"],
        activations=watch.counter.total,
        n_params=sum(p.numel() for p in trained.parameters()),
        trainable_params=sum(p.numel() for p in trained.parameters() if p.requires_grad),
        seconds=time.perf_counter() - start,
        notes=[f"SFTConfig ran with {', '.join(f'{k}={v}' for k, v in ran.items())}"] if left_to_trl else [],
    )
