"""The training setup the memory estimate models, with the checks that refuse impossible combinations.

Field names are the transformers `TrainingArguments` / PEFT / bitsandbytes names, so a setup reads
like the arguments of the run it describes. `validate` raises MemoryConfigError naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from .architecture import Architecture
from .errors import MemoryConfigError

OPTIMIZERS: dict[str, str] = {
    "adamw_torch_fused": "AdamW (torch, fused kernel; the Trainer's default): two states per parameter in the "
    "parameter's dtype, updated in place",
    "adamw_torch": "AdamW (torch, foreach): same states; the step allocates a copy of a whole param group",
    "adamw_8bit": "AdamW 8-bit (bitsandbytes): two 1-byte states per parameter plus block scales",
    "adamw_bnb_8bit": "same optimizer as adamw_8bit (transformers' other name for it)",
    "paged_adamw_8bit": "AdamW 8-bit in paged (unified) memory that the driver can move to the CPU",
    "adafactor": "Adafactor: factored second moment (one row and one column per matrix), no first moment",
    "sgd": "SGD as the Trainer builds it: no momentum, so no state",
}
DTYPES = ("float32", "bfloat16", "float16")
ATTENTION = ("eager", "sdpa", "flash_attention_2")
DEVICES = ("cuda", "cpu")
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
TRAINERS: dict[str, str] = {
    "sft": "TRL's SFTTrainer (what lrexplorer runs and exports): the loss comes from TRL's fused LM head, "
    "which projects in tiles and never holds the full logits",
    "transformers": "the plain transformers Trainer: the model's own loss over the full logits",
}


@dataclass(frozen=True)
class TrainingSetup:
    per_device_train_batch_size: int = 1
    max_length: int = 1024
    gradient_accumulation_steps: int = 1
    gradient_checkpointing: bool = False
    optim: str = "adamw_torch_fused"  # TrainingArguments' default in transformers 5
    torch_dtype: str = "bfloat16"
    bf16: bool = False
    fp16: bool = False
    attn_implementation: str | None = None  # None: what transformers picks (sdpa, or eager without sdpa support)
    lora_r: int = 0  # 0: full fine-tuning
    lora_target_modules: tuple[str, ...] | str | None = None  # None: PEFT's default; "all-linear"
    load_in_4bit: bool = False
    bnb_4bit_use_double_quant: bool = False
    num_gpus: int = 1
    zero_stage: int = 0
    fsdp: bool = False
    device: str = "cuda"
    trainer: str = "sft"
    # SFTConfig's batch shape: packing (TRL's default "bfd" strategy) fills rows of max_length and turns
    # padding_free on; padding_free puts the whole batch in one row without an attention mask.
    packing: bool = False
    padding_free: bool = False
    # Share of the label positions set to -100 (the prompt under completion_only_loss, other turns under
    # assistant_only_loss): only TRL's Triton path (CUDA) skips them.
    masked_label_fraction: float = 0.0
    # Tokens in the dataset's longest example; rows are padded to the longest of their batch, so the
    # worst step's rows are this long (None: at least max_length).
    longest_example: int | None = None

    def with_(self, **changes: Any) -> TrainingSetup:
        return replace(self, **changes)

    @property
    def lora(self) -> bool:
        return self.lora_r > 0

    @property
    def weight_bytes(self) -> int:
        return DTYPE_BYTES[self.torch_dtype]

    @property
    def compute_dtype(self) -> str:
        """The dtype activations are computed in: autocast's when mixed precision is on."""
        if self.bf16:
            return "bfloat16"
        if self.fp16:
            return "float16"
        return self.torch_dtype

    @property
    def example_length(self) -> int:
        """Tokens per example in the worst batch: max_length, or fewer when every example is shorter.

        Packing fills its rows to max_length whatever the examples' lengths; padding_free without
        packing never truncates (TRL asks for max_length=None), so the longest example decides.
        """
        if self.packing or self.longest_example is None:
            return self.max_length
        if self.padding_free:
            return self.longest_example
        return min(self.longest_example, self.max_length)

    @property
    def one_row(self) -> bool:
        """The collator flattens the batch into one row (padding_free, or packing's default strategy)."""
        return self.packing or self.padding_free

    def attention(self, arch: Architecture) -> str:
        return self.attn_implementation or arch.default_attn_implementation

    def target_modules(self, arch: Architecture) -> tuple[str, ...]:
        """The decoder Linears LoRA adapts, resolved the way PEFT resolves `target_modules`."""
        if not self.lora:
            return ()
        names = arch.linear_names()
        tm = self.lora_target_modules
        if tm is None:
            # PEFT's default for Llama-like models is q_proj and v_proj; Phi-3 has none, so it takes all.
            return ("q_proj", "v_proj") if "q_proj" in names else names
        if tm in ("all-linear", ("all-linear",)):
            return names
        return tuple(t for t in tm if t in names)


def _positive(name: str, value: Any, *, zero_ok: bool = False) -> None:
    low = 0 if zero_ok else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise MemoryConfigError(f"{name} must be an integer >= {low}, got {value!r}", field=name)


def _choice(name: str, value: Any, allowed: tuple[str, ...] | list[str]) -> None:
    if value not in allowed:
        raise MemoryConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}", field=name)


def validate(setup: TrainingSetup, arch: Architecture) -> None:
    """Raise MemoryConfigError for a value out of range or a combination a real run refuses."""
    _positive("per_device_train_batch_size", setup.per_device_train_batch_size)
    _positive("max_length", setup.max_length)
    _positive("gradient_accumulation_steps", setup.gradient_accumulation_steps)
    _positive("lora_r", setup.lora_r, zero_ok=True)
    _positive("num_gpus", setup.num_gpus)
    _choice("optim", setup.optim, list(OPTIMIZERS))
    _choice("torch_dtype", setup.torch_dtype, DTYPES)
    _choice("device", setup.device, DEVICES)
    _choice("trainer", setup.trainer, list(TRAINERS))
    if setup.longest_example is not None:
        _positive("longest_example", setup.longest_example)
    fraction = setup.masked_label_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
        raise MemoryConfigError(
            f"masked_label_fraction must be a number from 0 up to (not including) 1, got {fraction!r}",
            field="masked_label_fraction",
        )
    if (setup.packing or setup.padding_free) and setup.trainer != "sft":
        name = "packing" if setup.packing else "padding_free"
        raise MemoryConfigError(f"{name} is an SFTConfig setting: it needs trainer sft", field=name)
    if setup.attn_implementation is not None:
        _choice("attn_implementation", setup.attn_implementation, ATTENTION)
    if setup.zero_stage not in (0, 1, 2, 3):
        raise MemoryConfigError(f"zero_stage must be 0, 1, 2 or 3; got {setup.zero_stage!r}", field="zero_stage")
    if setup.bf16 and setup.fp16:
        raise MemoryConfigError("bf16 and fp16 are exclusive: choose one mixed-precision mode", field="fp16")
    if setup.fsdp and setup.zero_stage:
        raise MemoryConfigError(
            "fsdp and zero_stage are exclusive: FSDP full shard or DeepSpeed ZeRO, not both", field="fsdp"
        )
    attn = setup.attention(arch)
    if attn == "sdpa" and not arch.supports_sdpa:
        raise MemoryConfigError(
            f"attn_implementation sdpa: {arch.model_type} does not support sdpa (its attention soft-capping needs "
            "eager or flash_attention_2)",
            field="attn_implementation",
        )
    if attn == "flash_attention_2":
        if setup.device == "cpu":
            raise MemoryConfigError(
                "attn_implementation flash_attention_2 needs a CUDA GPU; use sdpa or eager on the CPU",
                field="attn_implementation",
            )
        if setup.compute_dtype == "float32":
            raise MemoryConfigError(
                "attn_implementation flash_attention_2 runs only in bfloat16 or float16: set "
                "torch_dtype to bfloat16/float16 or turn on bf16/fp16",
                field="attn_implementation",
            )
    if setup.load_in_4bit and not setup.lora:
        raise MemoryConfigError(
            "load_in_4bit needs LoRA (set lora_r > 0): 4-bit weights cannot be trained directly", field="load_in_4bit"
        )
    if setup.load_in_4bit and (setup.fsdp or setup.zero_stage == 3):
        raise MemoryConfigError("load_in_4bit with ZeRO-3 or FSDP is not modelled yet", field="load_in_4bit")
    if setup.fp16 and setup.torch_dtype == "float16" and not setup.lora:
        raise MemoryConfigError(
            "fp16 with torch_dtype float16 fails in a real run (the grad scaler cannot unscale "
            "float16 gradients): load float32 weights or use LoRA",
            field="fp16",
        )
    if setup.device == "cpu":
        if setup.num_gpus > 1 or setup.zero_stage or setup.fsdp:
            raise MemoryConfigError(
                "device cpu estimates a single CPU process: num_gpus, zero_stage and fsdp apply to GPUs", field="device"
            )
        if setup.optim == "paged_adamw_8bit":
            raise MemoryConfigError(
                "optim paged_adamw_8bit pages between GPU and CPU memory; on device cpu use adamw_8bit", field="optim"
            )
        if setup.fp16:
            raise MemoryConfigError("fp16 mixed precision needs a GPU; on the CPU use bf16", field="fp16")
    if setup.lora:
        tm = setup.lora_target_modules
        names = arch.linear_names()
        if tm is not None and tm not in ("all-linear", ("all-linear",)):
            bad = [t for t in tm if t not in names]
            if bad or not tm:
                raise MemoryConfigError(
                    f"lora_target_modules: {', '.join(bad) or 'empty'} not in this model's linear layers "
                    f"({', '.join(names)}, or all-linear)",
                    field="lora_target_modules",
                )


def setup_from_mapping(values: dict[str, Any]) -> TrainingSetup:
    """A setup from a dict of field values (unknown keys refused by name)."""
    known = {f.name for f in fields(TrainingSetup)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise MemoryConfigError(f"unknown setting(s): {', '.join(unknown)}", field=unknown[0])
    return TrainingSetup(**values)
