"""Rules of LoRA and quantized base weights: LoRA on top of bitsandbytes weights, one format, its package, a
compute dtype the device has, the targets the model has, and options that a switched-off feature ignores."""

from __future__ import annotations

from lrexplorer.catalogues.params import CATALOGUE
from lrexplorer.core.fields import FieldError
from lrexplorer.core.groups import MEMORY
from lrexplorer.rules.precision import no_bfloat16
from lrexplorer.rules.rule import BOTH, Subject, advice, refusal

BNB_4BIT = ("bnb_4bit_quant_type", "bnb_4bit_compute_dtype", "bnb_4bit_use_double_quant")


def _quantized(s: Subject) -> str | None:
    """The quantization switched on (an estimate models 4-bit weights only)."""
    if s.values["load_in_4bit"]:
        return "load_in_4bit"
    return "load_in_8bit" if s.values.get("load_in_8bit") else None


@refusal("load_in_8bit")
def one_quantization(s: Subject) -> str | None:
    """load_in_4bit and load_in_8bit together."""
    if s.values["load_in_4bit"] and s.values["load_in_8bit"]:
        return "cannot be combined with load_in_4bit; choose one of them"
    return None


@refusal("load_in_4bit", tools=BOTH)
def quantized_needs_lora(s: Subject) -> FieldError | None:
    """Quantized base weights without LoRA adapters to train."""
    name = _quantized(s)
    if name and not s.values["use_peft"]:
        return FieldError(
            name,
            "needs LoRA to train: quantized weights are frozen, only LoRA adapters on top of them train, so it needs "
            "use_peft",
        )
    return None


@refusal("load_in_4bit", needs=("facts",))
def quantized_needs_bitsandbytes(s: Subject) -> FieldError | None:
    """Quantized base weights without the bitsandbytes package."""
    name = _quantized(s)
    if name and s.facts is not None and not s.facts.bitsandbytes:
        return FieldError(name, "needs the bitsandbytes package (pip install bitsandbytes)")
    return None


@refusal("bnb_4bit_compute_dtype", needs=("facts",))
def compute_dtype_on_device(s: Subject) -> str | None:
    """A 4-bit compute dtype of bfloat16 the device lacks."""
    if not s.values["load_in_4bit"] or s.values["bnb_4bit_compute_dtype"] != "bfloat16":
        return None
    why = no_bfloat16(s)
    return f"{why}; {'use float32' if s.on_cpu else 'use float16'}" if why else None


@advice("info", "bnb_4bit_compute_dtype")
def float16_compute_on_cpu(s: Subject) -> str | None:
    """A 4-bit compute dtype of float16 on the CPU."""
    if s.values["load_in_4bit"] and s.values["bnb_4bit_compute_dtype"] == "float16" and s.on_cpu:
        return "bnb_4bit_compute_dtype float16 on the CPU is slow; float32 (or bfloat16) suits the CPU better."
    return None


@advice("info", "load_in_4bit")
def bnb_options_unused(s: Subject) -> str | None:
    """4-bit options changed while nothing is quantized."""
    if _quantized(s):
        return None
    changed = [n for n in BNB_4BIT if s.values[n] != CATALOGUE[n].default]
    if changed:
        return f"{', '.join(changed)}: used only with load_in_4bit, which is off."
    return None


@advice("info", "use_peft")
def lora_options_unused(s: Subject) -> str | None:
    """LoRA options set while use_peft is off."""
    if s.values["use_peft"]:
        return None
    ignored = [n for n in ("lora_target_modules", "use_rslora", "use_dora") if s.values[n]]
    if ignored:
        return f"{', '.join(ignored)} {'is' if len(ignored) == 1 else 'are'} ignored because use_peft is off."
    return None


@refusal("lora_target_modules", tools=(MEMORY,), needs=("arch",))
def lora_targets_in_model(s: Subject) -> str | None:
    """LoRA targets that are not Linear layers of the model."""
    targets = s.values["lora_target_modules"]
    if not s.values["use_peft"] or targets is None or targets in ("all-linear", ("all-linear",)):
        return None
    assert s.arch is not None
    names = s.arch.linear_names()
    bad = [t for t in targets if t not in names]
    if bad or not targets:
        return f"{', '.join(bad) or 'empty'} not in this model's linear layers ({', '.join(names)}, or all-linear)"
    return None
