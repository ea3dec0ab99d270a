"""LoRA and QLoRA runs as users ship them: the adapter, and on request a merged full model.

A LoRA run's `final_model/` (and each checkpoint) holds the adapter as peft saves it
(adapter_model.safetensors + adapter_config.json) and the tokenizer. `merge_run` loads the base the
way the run loaded it (a 4-bit base quantized the same way, then dequantized, so the merged weights
are the ones the adapter was trained against), folds the adapter in, casts to the dtype asked for and
writes a plain transformers folder: safetensors weights, config, generation config and tokenizer,
which `AutoModelForCausalLM.from_pretrained` loads with no lrexplorer and no peft.
`load_for_generation` gives (model, tokenizer) for any of these folders, for generation and chat.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lrexplorer.catalogues import builtin
from lrexplorer.catalogues.params import FieldError
from lrexplorer.runs.folder import store
from lrexplorer.runs.training import sources

MERGE_DTYPES = ("float32", "bfloat16", "float16")
ADAPTER_CONFIG = "adapter_config.json"


def is_adapter(folder: Path) -> bool:
    return (Path(folder) / ADAPTER_CONFIG).is_file()


def adapter_of(run_dir: Path) -> Path:
    """The run's final adapter folder; FieldError naming the run when it has none."""
    final = Path(run_dir) / store.FINAL
    if not is_adapter(final):
        why = "did not train LoRA adapters (use_peft is off)" if final.is_dir() else f"has no {store.FINAL}/ yet"
        raise FieldError("run", f"{Path(run_dir).name} {why}; only a finished LoRA or QLoRA run can be merged")
    return final


def load_base(run_dir: Path, values: dict[str, Any], tokenizer: Any, dequantize: bool = False) -> Any:
    """The run's base model as its worker loaded it (quantized when the run was), on this machine."""
    from lrexplorer.core.facts import detect_facts
    from lrexplorer.rules.attention import resolve_attention

    base_dir = Path(run_dir) / store.BASE if builtin.is_builtin(values["model"]) else None
    model = sources.load_model(values, tokenizer, resolve_attention(values, detect_facts()), base_dir)
    if dequantize and getattr(model, "hf_quantizer", None) is not None:
        import torch

        # The adapter was trained against the dequantized 4-bit weights: merge into exactly those.
        model = model.dequantize(dtype=torch.float32)
    return model


def load_adapter_model(adapter_dir: Path, dequantize: bool = False) -> tuple[Any, Any]:
    """(PeftModel, tokenizer) of an adapter folder inside a run (final_model/ or a checkpoint)."""
    from peft import PeftModel
    from transformers import AutoTokenizer

    adapter_dir = Path(adapter_dir)
    run_dir = adapter_dir.parent
    spec = store.read_spec(run_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir))
    base = load_base(run_dir, spec.values, tokenizer, dequantize)
    return PeftModel.from_pretrained(base, str(adapter_dir)), tokenizer


def load_for_generation(folder: str | Path) -> tuple[Any, Any]:
    """(model in eval mode, tokenizer) for a run folder, an adapter folder of a run, or a merged/full model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(folder)
    if store.is_run(folder):
        folder = folder / store.FINAL
    if is_adapter(folder):
        import torch

        # bitsandbytes' CPU inference kernels need layer widths the built-in model lacks, and bring nothing
        # to a CPU: there a 4-bit base is dequantized (the very weights the adapter trained against).
        model, tokenizer = load_adapter_model(folder, dequantize=not torch.cuda.is_available())
    else:
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype="auto")
    model.eval()
    return model, tokenizer


def merge_run(run_dir: Path, dest: Path, dtype: str = "float32") -> Path:
    """Write the run's base with its adapter merged into `dest` (a new or empty folder), in `dtype`."""
    import torch

    if dtype not in MERGE_DTYPES:
        raise FieldError("dtype", f"must be one of {', '.join(MERGE_DTYPES)}; got {dtype!r}")
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FieldError("dest", f"{dest} exists and is not an empty folder; give a new folder")
    model, tokenizer = load_adapter_model(adapter_of(run_dir), dequantize=True)
    merged = model.merge_and_unload().to(getattr(torch, dtype))
    merged.config.dtype = dtype
    dest.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(dest))
    tokenizer.save_pretrained(str(dest))
    return dest
