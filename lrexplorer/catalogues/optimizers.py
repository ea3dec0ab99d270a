"""Every optimizer lrexplorer knows, by the name `TrainingArguments.optim` gives it.

For each: what `Trainer.get_optimizer_cls_and_kwargs` builds for that name, the state it keeps per
trainable tensor, what its step allocates on the CPU and on CUDA, the devices it runs on, and whether
the Train form offers it. The Train form's choices, the memory engine, its validation and the
memory-saving suggestions all read this table. Pure data: importing it imports no torch.

Modelled with the Trainer's defaults: no `optim_args`, and weight_decay 0 where it changes the step's
temporaries (torch's Adagrad and RMSprop add `grad + weight_decay * param` per tensor otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lrexplorer.catalogues.optimizer_state import (
    AdafactorLoop,
    Blockwise8bit,
    BnbCpuKernel,
    Factored,
    GroupForeach,
    InPlace,
    Moments,
    StateModel,
    TemporaryModel,
    Tensor,
    TensorLoop,
)

DEVICES = ("cuda", "cpu")
PAGED_MIN_NUMEL = 100_000  # bitsandbytes pages the state of tensors at least this large (on CUDA)

_PAGED_NOTE = (
    f"On CUDA bitsandbytes puts the state of every tensor of {PAGED_MIN_NUMEL:,} values or more in unified memory: "
    "it stays on the GPU while it fits, and the driver moves it to CPU RAM instead of failing when the GPU "
    "runs short. The estimate counts it as GPU memory (where it lives while the run fits); "
    "torch.cuda.max_memory_allocated does not see it. On the CPU bitsandbytes falls back to ordinary "
    "buffers (with a warning): the same bytes as the unpaged optimizer, which is what is modelled there."
)
_BNB_CPU_NOTE = (
    "On the CPU bitsandbytes runs its update as torch operations, one tensor at a time, upcasting the "
    "gradient (and any 16-bit parameter or 8-bit state) to float32; on CUDA it is one in-place kernel."
)


@dataclass(frozen=True)
class Optimizer:
    name: str  # the TrainingArguments.optim value
    description: str
    cls: str  # the class the Trainer builds (importable dotted name)
    kwargs: dict[str, Any]  # the keyword arguments that tell this optimizer from its siblings
    state: StateModel
    cpu: TemporaryModel  # the step's temporaries on the CPU
    cuda: TemporaryModel  # ... and on a CUDA GPU
    devices: tuple[str, ...] = DEVICES
    train_form: bool = True  # offered by the Train form (and its CLI / YAML)
    bitsandbytes: bool = False  # needs the bitsandbytes package
    note: str = ""  # how it behaves on each device, where that differs

    @property
    def implementation(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.cls}({args})"

    def state_bytes(self, tensors: list[Tensor], e_param: int, device: str) -> int:
        """Bytes of optimizer state on `device` for these trainable tensors of `e_param` bytes each."""
        return self.state.bytes(tensors, e_param, device)

    def step_temporary_bytes(self, tensors: list[Tensor], e_param: int, device: str) -> int:
        """Bytes the optimizer step allocates on top of weights, gradients and state, at its worst moment."""
        model = self.cuda if device == "cuda" else self.cpu
        return model.peak(tensors, e_param, self.state)


def _bnb(name: str, description: str, cls: str, bits: int, paged: bool, **rest: Any) -> Optimizer:
    note = " ".join(filter(None, (_PAGED_NOTE if paged else "", _BNB_CPU_NOTE)))
    kwargs = {"optim_bits": bits, "is_paged": paged}
    return Optimizer(name, description, cls, kwargs, cuda=InPlace(), bitsandbytes=True, note=note, **rest)


def _torch_unfused(name: str, description: str, cls: str, moments: int, loop: int, foreach: int) -> Optimizer:
    """torch's optimizers without `fused`: moments in the parameter's dtype, `step` on the host; a
    single-tensor loop off CUDA (`loop` temporaries per tensor), foreach on CUDA (`foreach` per group)."""
    state = Moments(moments, step="host")
    return Optimizer(name, description, cls, {}, state, cpu=TensorLoop(loop), cuda=GroupForeach(foreach))


def _bnb_32bit(name: str, description: str, cls: str, moments: int, extra: int, paged: bool = False) -> Optimizer:
    """bitsandbytes with float32 state: `moments` float32 copies of each tensor; its CPU kernel makes
    `extra` float32 intermediates per tensor."""
    state, cpu = Moments(moments, float32=True), BnbCpuKernel(extra_32bit=extra)
    return _bnb(name, description, cls, 32, paged, state=state, cpu=cpu)


def _adamw_8bit(name: str, description: str, paged: bool) -> Optimizer:
    state, cpu = Blockwise8bit(count=2, qmaps=2), BnbCpuKernel(extra_32bit=2, extra_8bit=2, moments=2)
    return _bnb(name, description, "bitsandbytes.optim.AdamW", 8, paged, state=state, cpu=cpu)


_ALL: tuple[Optimizer, ...] = (
    _torch_unfused(
        "adamw_torch",
        "AdamW from torch: two moments per weight in the weight's dtype. Off CUDA it updates one tensor at "
        "a time; on CUDA its foreach path makes a temporary the size of a whole parameter group.",
        "torch.optim.AdamW",
        moments=2,
        loop=2,
        foreach=1,
    ),
    Optimizer(
        "adamw_torch_fused",
        "AdamW from torch with its fused kernel (the Trainer's default): the same two moments, updated in "
        "place with no temporaries.",
        "torch.optim.AdamW",
        {"fused": True},
        Moments(2, step="device"),
        cpu=InPlace(),
        cuda=InPlace(),
    ),
    _adamw_8bit(
        "adamw_8bit",
        "AdamW from bitsandbytes with 8-bit moments: one byte per value plus a float32 scale per 256 "
        "values; small tensors and the embeddings stay in float32.",
        False,
    ),
    _adamw_8bit(
        "adamw_bnb_8bit",
        "Another name for adamw_8bit: the same bitsandbytes optimizer.",
        False,
    ),
    _adamw_8bit(
        "paged_adamw_8bit",
        "adamw_8bit whose large states live in paged (unified) memory on a GPU.",
        True,
    ),
    _bnb_32bit(
        "paged_adamw_32bit",
        "AdamW from bitsandbytes with float32 moments (whatever the weights' dtype) in paged memory.",
        "bitsandbytes.optim.AdamW",
        moments=2,
        extra=2,
        paged=True,
    ),
    Optimizer(
        "adafactor",
        "Adafactor from transformers, without a first moment: the second moment of a matrix is factored "
        "into one row and one column, so the state is next to nothing.",
        "transformers.optimization.Adafactor",
        {"scale_parameter": False, "relative_step": False},
        Factored(),
        cpu=AdafactorLoop(),
        cuda=AdafactorLoop(),
    ),
    Optimizer(
        "sgd",
        "Plain SGD as the Trainer builds it (no momentum): no state at all.",
        "torch.optim.SGD",
        {},
        Moments(0),
        cpu=InPlace(),
        cuda=InPlace(),
    ),
    _torch_unfused(
        "adagrad",
        "Adagrad from torch: one running sum of squared gradients per weight, in the weight's dtype.",
        "torch.optim.Adagrad",
        moments=1,
        loop=1,
        foreach=2,
    ),
    _torch_unfused(
        "rmsprop",
        "RMSprop from torch (no momentum, not centred): one running average of squared gradients per "
        "weight, in the weight's dtype.",
        "torch.optim.RMSprop",
        moments=1,
        loop=1,
        foreach=1,
    ),
    _bnb(
        "lion_8bit",
        "Lion from bitsandbytes: a single momentum, kept in 8 bits (float32 for small tensors and the "
        "embeddings); the update is its sign.",
        "bitsandbytes.optim.Lion",
        8,
        False,
        state=Blockwise8bit(count=1, qmaps=1),
        cpu=BnbCpuKernel(extra_32bit=2, extra_8bit=3, moments=1),
    ),
    _bnb_32bit(
        "lion_32bit",
        "Lion from bitsandbytes with its single momentum in float32.",
        "bitsandbytes.optim.Lion",
        moments=1,
        extra=2,
    ),
    _bnb_32bit(
        "ademamix",
        "AdEMAMix from bitsandbytes: Adam's two moments plus a slow second momentum, three float32 states per weight.",
        "bitsandbytes.optim.AdEMAMix",
        moments=3,
        extra=3,
    ),
)

OPTIMIZERS: dict[str, Optimizer] = {o.name: o for o in _ALL}
TRAIN_FORM_CHOICES: tuple[str, ...] = tuple(o.name for o in _ALL if o.train_form)


def get(name: str) -> Optimizer:
    """The registry's entry for `name` (KeyError for an unknown one: callers validate first)."""
    return OPTIMIZERS[name]
