"""The generation setup a generation-memory estimate models: one greedy `model.generate` call.

A batch of `batch_size` prompts of `prompt_length` tokens each (no padding), `max_new_tokens` generated
after them, transformers' default cache (`DynamicCache`). `generation_setup_from_values` builds one from
catalogue values (`lrexplorer.catalogues.params`, the memory tool's fields) and `validate_generation`
refuses what the estimate does not model, with a FieldError naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from lrexplorer.catalogues.architecture import FULL, SLIDING, Architecture
from lrexplorer.catalogues.params import CATALOGUE
from lrexplorer.core.fields import FieldError
from lrexplorer.core.kernels import is_flash
from lrexplorer.core.limits import MAX_TOKENS
from lrexplorer.memory.setup import ATTENTION, DTYPES

# Families whose generate call was measured op by op (bench/README.md, "Generation"). Gemma-2 (soft-capping,
# four norms per layer) and Phi-3 (fused projections) run other code and are refused until measured.
GENERATION_FAMILIES = ("llama", "mistral", "qwen2")
# The config classes' eos_token_id when config.json has none.
DEFAULT_EOS = {"llama": 2, "mistral": 2, "qwen2": None}


@dataclass(frozen=True)
class GenerationSetup:
    batch_size: int = 1
    prompt_length: int = 512
    max_new_tokens: int = 256
    min_new_tokens: int | None = None
    dtype: str = "bfloat16"
    attn_implementation: str | None = None  # None: what transformers picks (sdpa)
    device: str = "cuda"
    load_in_4bit: bool = False
    bnb_4bit_use_double_quant: bool = False
    # The model's config names an end-of-sequence token (min_new_tokens adds its processors only then).
    eos: bool = True

    def with_(self, **changes: Any) -> GenerationSetup:
        return replace(self, **changes)

    def attention(self, arch: Architecture) -> str:
        return self.attn_implementation or arch.default_attn_implementation

    @property
    def total_length(self) -> int:
        return self.prompt_length + self.max_new_tokens

    @property
    def processors(self) -> bool:
        """min_new_tokens turns on MinLength and MinNewTokensLength logits processors (with an EOS token)."""
        return bool(self.min_new_tokens) and self.eos


def validate_generation(setup: GenerationSetup, arch: Architecture, positions: int | None = None) -> None:
    """Raise FieldError for a value out of range or what the estimate does not model."""
    errors = []
    for name in ("batch_size", "prompt_length", "max_new_tokens", "min_new_tokens", "load_in_4bit"):
        value, field = getattr(setup, name), CATALOGUE[name]
        try:
            ok = field.convert(value) == value and (value is None or type(value) is type(field.convert(value)))
        except FieldError as exc:
            errors.append(exc)
            continue
        if not ok:
            errors.append(FieldError(name, f"must be {field.allowed()}; got {value!r}"))
    if errors:
        raise FieldError.collect(errors)
    if setup.dtype not in DTYPES:
        raise FieldError("dtype", f"the estimate needs {', '.join(DTYPES)}; auto is read from the model's config")
    if setup.attn_implementation not in (None, *ATTENTION):
        raise FieldError(
            "attn_implementation", f"must be one of {', '.join(ATTENTION)}; got {setup.attn_implementation!r}"
        )
    if arch.model_type not in GENERATION_FAMILIES:
        raise FieldError(
            "model",
            f"generation memory is modelled for {', '.join(GENERATION_FAMILIES)} models (measured call by call); "
            f"{arch.model_type} is not yet",
        )
    unknown = sorted(set(arch.layer_types) - {FULL, SLIDING})
    if unknown or (arch.model_type == "llama" and SLIDING in arch.layer_types):
        shown = ", ".join(unknown) or "sliding_attention in a Llama model"
        raise FieldError("model", f"layer types {shown}: not modelled for generation")
    if setup.batch_size * setup.total_length > MAX_TOKENS:
        raise FieldError(
            "batch_size",
            f"{setup.batch_size} x (prompt_length + max_new_tokens) = {setup.batch_size * setup.total_length:,} "
            f"tokens; at most {MAX_TOKENS:,}",
        )
    if positions is not None and setup.total_length > positions:
        raise FieldError(
            "max_new_tokens",
            f"prompt_length + max_new_tokens ({setup.total_length}) must be at most the model's "
            f"max_position_embeddings ({positions})",
        )
    if setup.min_new_tokens is not None and setup.min_new_tokens > setup.max_new_tokens:
        raise FieldError("min_new_tokens", f"must be at most max_new_tokens ({setup.max_new_tokens})")
    attn = setup.attention(arch)
    if is_flash(attn):
        if setup.device == "cpu":
            raise FieldError("attn_implementation", f"{attn} needs a CUDA GPU; use sdpa or eager on the CPU")
        if setup.dtype == "float32":
            raise FieldError("attn_implementation", f"{attn} runs only in bfloat16 or float16: set dtype")
    if setup.load_in_4bit and setup.device == "cpu" and setup.dtype == "float16":
        raise FieldError("dtype", "float16 4-bit layers need a GPU; on the CPU use bfloat16 or float32")


def generation_setup_from_values(values: Mapping[str, Any], config: Mapping[str, Any] | None = None) -> GenerationSetup:
    """The setup of a generation estimate from the memory tool's catalogue values (others are ignored).
    `config` (the model's config.json) settles dtype auto (the saved dtype) and whether it has an EOS token."""
    config = config or {}
    dtype = values.get("dtype", "auto")
    if dtype == "auto":  # transformers 5 loads the weights in the dtype they were saved in
        saved = str(config.get("dtype") or config.get("torch_dtype") or "float32")
        dtype = saved if saved in DTYPES else "float32"
    attn = values.get("attn_implementation")
    return GenerationSetup(
        batch_size=values.get("batch_size", 1),
        prompt_length=values.get("prompt_length", 512),
        max_new_tokens=values.get("max_new_tokens", 256),
        min_new_tokens=values.get("min_new_tokens"),
        dtype=dtype,
        attn_implementation=None if attn in (None, "auto") else attn,
        device=values.get("device", "cuda"),
        load_in_4bit=bool(values.get("load_in_4bit", False)),
        bnb_4bit_use_double_quant=bool(values.get("bnb_4bit_use_double_quant", False)),
        eos=has_eos(config),
    )


def has_eos(config: Mapping[str, Any]) -> bool:
    """Whether the model built from `config` has an end-of-sequence token (its config class' default when unset)."""
    return config.get("eos_token_id", DEFAULT_EOS.get(str(config.get("model_type")))) is not None
