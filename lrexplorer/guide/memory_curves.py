"""Peak training memory against sequence length, with and without checkpointing and flash attention.

The numbers come from the Memory page's engine (`lrexplorer.memory.analytic.estimate`, pure Python, checked
against measured steps there), for a bundled model preset: the Guide draws them, it does not model
memory itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from lrexplorer.catalogues.architecture import from_config
from lrexplorer.catalogues.presets import load_presets
from lrexplorer.core.units import GIB
from lrexplorer.memory.analytic.estimate import estimate
from lrexplorer.memory.setup import TrainingSetup

SEQ_LENGTHS = (512, 1024, 2048, 4096, 8192, 16384)
DEFAULT_MODEL = "Llama-3.2-1B"
# (label, attn_implementation, activation_checkpointing)
VARIANTS: tuple[tuple[str, str, bool], ...] = (
    ("eager attention", "eager", False),
    ("eager + checkpointing", "eager", True),
    ("flash attention", "flash_attention_2", False),
    ("flash + checkpointing", "flash_attention_2", True),
)


@dataclass(frozen=True)
class MemoryCurves:
    model: str
    batch: int
    lengths: tuple[int, ...]
    peak_gib: dict[str, list[float]]  # variant label -> peak per length
    activations_gib: dict[str, list[float]]
    setup_note: str


def model_names() -> list[str]:
    return list(load_presets())


def memory_against_sequence(
    model: str = DEFAULT_MODEL, batch: int = 1, lengths: tuple[int, ...] = SEQ_LENGTHS
) -> MemoryCurves:
    """Peak memory of one full fine-tuning step on one GPU, in GiB, for each variant and length.

    bfloat16 weights with AdamW (flash attention runs only in 16-bit), batch `batch`; everything
    else at the estimate's defaults.
    """
    preset = load_presets()[model]
    arch = from_config(preset.config, preset.name)
    base = TrainingSetup(per_device_train_batch_size=batch, dtype="bfloat16", optim="adamw_torch", device="cuda")
    peak: dict[str, list[float]] = {}
    acts: dict[str, list[float]] = {}
    for label, attn, checkpointing in VARIANTS:
        runs = [
            estimate(arch, base.with_(max_length=s, attn_implementation=attn, activation_checkpointing=checkpointing))
            for s in lengths
        ]
        peak[label] = [r.peak_bytes / GIB for r in runs]
        acts[label] = [r.components["activations"] / GIB for r in runs]
    note = (
        f"{model}, full fine-tuning, bfloat16 weights, AdamW, batch {batch}, one GPU; "
        "estimated by lrexplorer's memory engine"
    )
    return MemoryCurves(model, batch, tuple(lengths), peak, acts, note)
