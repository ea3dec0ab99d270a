"""The sizes and dtypes one training step works with, derived once from (architecture, setup).

Byte widths: `ew` for the weights (dtype), `el` for what a Linear returns (the autocast dtype
under bf16/fp16 mixed precision, else the weights' dtype), `eh` for the residual stream between
layers (a float32 embedding plus a bfloat16 Linear output promotes to float32, so under mixed
precision with float32 weights the stream stays float32).

Rows: `b` rows of `s` tokens as the collator hands them over; padding_free (and packing) flatten the
batch into one row of all its tokens, with documents told apart by their position ids (`packed`).
`head` is how the loss is computed: "logits" (the model's own loss, the plain Trainer), "fused" (TRL's
fused LM head, torch fallback: the CPU) or "fused_triton" (its Triton kernels: CUDA).
"""

from __future__ import annotations

from dataclasses import dataclass

from lrexplorer.catalogues.architecture import Architecture, Linear
from lrexplorer.memory.analytic.fused_head import head_kind
from lrexplorer.memory.setup import DTYPE_BYTES, TrainingSetup


@dataclass(frozen=True)
class Dims:
    T: int  # tokens in one micro-batch: batch x max_length
    b: int
    s: int
    h: int
    i: int
    H: int
    kv: int
    d: int
    V: int
    layers: int
    ew: int
    el: int
    eh: int
    autocast: bool  # mixed precision that actually casts (weights wider than the autocast dtype)
    attn: str
    arch: Architecture
    targets: frozenset[str]  # LoRA-adapted Linears (empty: full fine-tuning)
    r: int
    qlora: bool
    checkpointing: bool
    device: str = "cuda"
    head: str = "logits"
    scored: int = 0  # positions the fused head projects: every shifted position, or (Triton) the labelled ones
    packed: bool = False  # one row of several documents (padding_free / packing)
    head_fp32: bool = False  # TRL's cast_lm_head_to_fp32 (GRPO's option; SFTTrainer leaves it off)
    # Bytes of the LoRA adapters' weights as the forward sees them: float32 (PEFT's upcast), bfloat16 under
    # QLoRA, and the 16-bit param_dtype FSDP2's mixed precision gathers them in (its shards stay float32).
    e_adapter: int = 4

    @property
    def lora(self) -> bool:
        return self.r > 0

    def linear(self, name: str) -> Linear:
        for lin in self.arch.linears:
            if lin.name == name:
                return lin
        raise KeyError(name)


def make_dims(arch: Architecture, setup: TrainingSetup) -> Dims:
    ew = DTYPE_BYTES[setup.dtype]
    ec = DTYPE_BYTES[setup.compute_dtype]
    if setup.load_in_4bit:
        # bitsandbytes computes 4-bit Linears in bnb_4bit_compute_dtype; the Trainer's recipe sets it to
        # the 16-bit dtype of the run, and the embeddings and norms stay in dtype.
        el = 2 if (setup.bf16 or setup.fp16 or ew == 2) else 4
    else:
        el = ec if (setup.bf16 or setup.fp16) else ew
    attn = setup.attention(arch)
    b, s = setup.per_device_train_batch_size, setup.example_length
    if setup.one_row:
        b, s = 1, b * s
    head = head_kind(arch, setup)
    shifted = b * (s - 1)
    scored = shifted if head != "fused_triton" else shifted - int(shifted * setup.masked_label_fraction)
    if attn == "sdpa" and setup.device == "cuda" and el == 4 and arch.num_kv_heads < arch.num_heads:
        # On CUDA, float32 rules out SDPA's flash kernel and the memory-efficient kernel does not take
        # grouped K/V, so PyTorch falls back to its math kernel, which keeps the full score matrix
        # like eager attention. (Not validated on a GPU here; see bench/README.md.)
        attn = "eager"
    return Dims(
        T=b * s,
        b=b,
        s=s,
        h=arch.hidden_size,
        i=arch.intermediate_size,
        H=arch.num_heads,
        kv=arch.num_kv_heads,
        d=arch.head_dim,
        V=arch.vocab_size,
        layers=arch.num_layers,
        ew=ew,
        el=el,
        eh=max(ew, el),
        autocast=(setup.bf16 or setup.fp16) and setup.dtype != setup.compute_dtype,
        attn=attn,
        arch=arch,
        targets=frozenset(setup.target_modules(arch)),
        r=setup.lora_r if setup.lora else 0,
        qlora=setup.load_in_4bit,
        checkpointing=setup.activation_checkpointing,
        device=setup.device,
        head=head,
        scored=scored,
        packed=setup.one_row,
        e_adapter=2 if setup.load_in_4bit or (setup.fsdp and (setup.bf16 or setup.fp16)) else 4,
    )
