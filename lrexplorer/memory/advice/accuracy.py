"""The validation matrix: small Llama-style models and setups whose real peak is measured on the CPU (the
two public rules of thumb our estimate is compared with are in `rules_of_thumb`).

CPU_MATRIX and PRESET_CASES hold the plain transformers Trainer's step; SFT_MATRIX and SFT_PRESET_CASES
the step of TRL's SFTTrainer, which lrexplorer's runs execute (its fused LM head, its batch shapes).

Used by `bench/memory_accuracy.py` (the full table) and by the tests (a subset with the targets).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from lrexplorer.catalogues.architecture import Architecture, from_config
from lrexplorer.memory.setup import TrainingSetup, trl_unset_defaults

# A small Llama-style model (~7M parameters): big enough that every part of a step shows, small
# enough that a real step runs in about a second on two CPU cores.
BASE_CONFIG: dict[str, Any] = {
    "model_type": "llama",
    "vocab_size": 8192,
    "hidden_size": 256,
    "intermediate_size": 704,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 8,
    "tie_word_embeddings": False,
}
BASE_SETUP: dict[str, Any] = {
    "device": "cpu",
    "dtype": "float32",
    "attn_implementation": "sdpa",
    "per_device_train_batch_size": 2,
    "max_length": 256,
    "optim": "adamw_torch",
    "trainer": "transformers",
}
TINY: dict[str, Any] = {
    "hidden_size": 128,
    "intermediate_size": 352,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "vocab_size": 4096,
}
MID = {
    "hidden_size": 512,
    "intermediate_size": 1408,
    "num_hidden_layers": 6,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "vocab_size": 32000,
}


@dataclass(frozen=True)
class Case:
    name: str
    config: dict[str, Any] = field(default_factory=dict)  # changes to BASE_CONFIG
    setup: dict[str, Any] = field(default_factory=dict)  # changes to BASE_SETUP
    preset: str | None = None  # a bundled preset's config instead of BASE_CONFIG
    # SFTConfig fields the case's script leaves out (TRL's defaults decide them), and whether its dataset is
    # plain text that SFTTrainer tokenises and truncates (see measure_sft).
    left_to_trl: tuple[str, ...] = ()
    text_rows: bool = False

    def trl_setup(self, setup: TrainingSetup) -> TrainingSetup:
        """The setup whose figure the CLI gives for a script that leaves `left_to_trl` to TRL's SFTConfig."""
        given = {f.name for f in fields(TrainingSetup)} - set(self.left_to_trl)
        return setup.with_(**trl_unset_defaults(asdict(setup), given))

    def build(self) -> tuple[dict[str, Any], Architecture, TrainingSetup]:
        if self.preset:
            from lrexplorer.catalogues.presets import find_preset

            found = find_preset(self.preset)
            assert found is not None, self.preset
            config = dict(found.config)
        else:
            config = {**BASE_CONFIG, **self.config}
        return config, from_config(config, self.name), TrainingSetup(**{**BASE_SETUP, **self.setup})


def _c(name: str, setup: dict[str, Any] | None = None, **config: Any) -> Case:
    return Case(name, config, setup or {})


CPU_MATRIX: tuple[Case, ...] = (
    _c("base"),
    _c("seq 64", {"max_length": 64}),
    _c("seq 1024", {"max_length": 1024}),
    _c("batch 1", {"per_device_train_batch_size": 1}),
    _c("batch 8", {"per_device_train_batch_size": 8}),
    _c("eager", {"attn_implementation": "eager"}),
    _c("eager seq 1024", {"attn_implementation": "eager", "max_length": 1024}),
    _c("checkpointing", {"activation_checkpointing": True}),
    _c(
        "checkpointing eager seq 1024",
        {"activation_checkpointing": True, "attn_implementation": "eager", "max_length": 1024},
    ),
    _c("GQA 8:2", num_key_value_heads=2),
    _c("GQA 8:2 eager", {"attn_implementation": "eager"}, num_key_value_heads=2),
    _c("vocab 65536", vocab_size=65536),
    _c("vocab 65536 tied", tie_word_embeddings=True, vocab_size=65536),
    _c("tied", tie_word_embeddings=True),
    _c(
        "tied vocab 65536 seq 32 batch 1",
        {"max_length": 32, "per_device_train_batch_size": 1},
        tie_word_embeddings=True,
        vocab_size=65536,
    ),
    _c(
        "tied vocab 65536 seq 32 accumulation 2",
        {"max_length": 32, "gradient_accumulation_steps": 2},
        tie_word_embeddings=True,
        vocab_size=65536,
    ),
    _c("sgd", {"optim": "sgd"}),
    _c("adamw 8-bit", {"optim": "adamw_8bit"}),
    _c("adafactor", {"optim": "adafactor"}),
    _c("adamw fused", {"optim": "adamw_torch_fused"}),
    _c("paged adamw 32-bit", {"optim": "paged_adamw_32bit"}),
    _c("adagrad", {"optim": "adagrad"}),
    _c("rmsprop", {"optim": "rmsprop"}),
    _c("lion 8-bit", {"optim": "lion_8bit"}),
    _c("lion 32-bit", {"optim": "lion_32bit"}),
    _c("ademamix", {"optim": "ademamix"}),
    # Short sequences: the optimizer step, with its temporaries, is the peak.
    _c("ademamix seq 32", {"optim": "ademamix", "max_length": 32}),
    _c("lion 8-bit seq 32", {"optim": "lion_8bit", "max_length": 32}),
    _c("accumulation 4", {"gradient_accumulation_steps": 4}),
    _c("bf16 weights", {"dtype": "bfloat16"}),
    _c("bf16 eager seq 1024", {"dtype": "bfloat16", "attn_implementation": "eager", "max_length": 1024}),
    _c("bf16 checkpointing", {"dtype": "bfloat16", "activation_checkpointing": True}),
    _c("bf16 GQA vocab 65536", {"dtype": "bfloat16"}, num_key_value_heads=2, vocab_size=65536),
    _c("bf16 sgd", {"dtype": "bfloat16", "optim": "sgd"}),
    _c("bf16 adamw 8-bit", {"dtype": "bfloat16", "optim": "adamw_8bit"}),
    _c("bf16 adafactor", {"dtype": "bfloat16", "optim": "adafactor"}),
    _c("bf16 paged adamw 32-bit", {"dtype": "bfloat16", "optim": "paged_adamw_32bit"}),
    _c("bf16 rmsprop", {"dtype": "bfloat16", "optim": "rmsprop"}),
    _c("bf16 lion 8-bit seq 32", {"dtype": "bfloat16", "optim": "lion_8bit", "max_length": 32}),
    _c("bf16 ademamix", {"dtype": "bfloat16", "optim": "ademamix"}),
    _c("bf16 autocast (fp32 weights)", {"bf16": True}),
    _c("LoRA r16 q,v bf16", {"dtype": "bfloat16", "use_peft": True, "lora_r": 16}),
    _c("LoRA r8 all-linear", {"use_peft": True, "lora_r": 8, "lora_target_modules": "all-linear"}),
    _c("tiny", {}, **TINY),
    _c("tiny seq 2048 eager", {"attn_implementation": "eager", "max_length": 2048}, **TINY),
    _c("mid", {}, **MID),
    _c(
        "mid bf16 tied checkpointing",
        {"dtype": "bfloat16", "activation_checkpointing": True, "max_length": 512},
        **{**MID, "tie_word_embeddings": True},
    ),
    _c(
        "mid bf16 accumulation 2 seq 512",
        {"dtype": "bfloat16", "gradient_accumulation_steps": 2, "max_length": 512},
        **MID,
    ),
)


def _p(preset: str, name: str, **setup: Any) -> Case:
    return Case(f"{preset} {name}", {}, {"dtype": "bfloat16", "trainer": "transformers", **setup}, preset)


def _sft(name: str, setup: dict[str, Any] | None = None, **config: Any) -> Case:
    return Case(f"sft {name}", config, {"trainer": "sft", **(setup or {})})


# Real-size presets, simulated under FakeTensorMode (device cpu: the CPU kernels run, so both sides
# count the same tensors; the CUDA-only constants would only add the same amount to both).
PRESET_CASES: tuple[Case, ...] = (
    _p("SmolLM2-135M", "b4 s1024", per_device_train_batch_size=4, max_length=1024),
    _p("SmolLM2-360M", "eager s1024", attn_implementation="eager", max_length=1024),
    _p("Qwen2.5-0.5B", "s2048", max_length=2048),
    _p(
        "Qwen2.5-1.5B",
        "checkpointing b4 s2048",
        activation_checkpointing=True,
        per_device_train_batch_size=4,
        max_length=2048,
    ),
    _p("Llama-3.2-1B", "fp32 weights + bf16 autocast s1024", dtype="float32", bf16=True, max_length=1024),
    _p("Llama-3.2-3B", "LoRA r16 s2048", use_peft=True, lora_r=16, max_length=2048),
    _p("Phi-3-mini", "adamw 8-bit s1024", optim="adamw_8bit", max_length=1024),
    _p("Gemma-2-2B", "eager s1024", attn_implementation="eager", max_length=1024),
    _p(
        "Mistral-7B-v0.3",
        "LoRA r16 all-linear checkpointing s4096",
        use_peft=True,
        lora_r=16,
        lora_target_modules="all-linear",
        activation_checkpointing=True,
        max_length=4096,
    ),
    _p("Llama-3.1-8B", "s2048", max_length=2048),
    _p(
        "Qwen2.5-7B", "adafactor checkpointing s2048", optim="adafactor", activation_checkpointing=True, max_length=2048
    ),
    _p("SmolLM2-135M", "ademamix s256", optim="ademamix", per_device_train_batch_size=1, max_length=256),
    _p("Qwen2.5-0.5B", "paged adamw 32-bit s1024", optim="paged_adamw_32bit", max_length=1024),
    _p("Llama-3.2-1B", "lion 8-bit s512", optim="lion_8bit", max_length=512),
)

# Real-size presets under FSDP2, one rank simulated on a fake process group (simulate_parallel.py) at each
# of FSDP_WORLD_SIZES; mixed precision as accelerate runs it. Compared without the CUDA constants, which
# both sides add alike.
FSDP_WORLD_SIZES = (2, 8, 64)


def _fsdp(preset: str, name: str, **setup: Any) -> Case:
    base = {"dtype": "bfloat16", "bf16": True, "trainer": "transformers", "fsdp": True, "device": "cuda"}
    return Case(f"{preset} {name}", {}, {**base, **setup}, preset)


FSDP_PRESET_CASES: tuple[Case, ...] = (
    _fsdp("Qwen2.5-0.5B", "b2 s2048", per_device_train_batch_size=2, max_length=2048),
    _fsdp("Llama-3.2-1B", "s4096", max_length=4096),
    _fsdp(
        "Qwen2.5-1.5B",
        "checkpointing b4 s2048",
        activation_checkpointing=True,
        per_device_train_batch_size=4,
        max_length=2048,
    ),
    _fsdp("Llama-3.2-3B", "shard-grad-op s2048", fsdp_reshard_after_forward=False, max_length=2048),
    _fsdp("Llama-3.1-8B", "s2048", max_length=2048),
    _fsdp(
        "Llama-3.1-8B",
        "checkpointing b4 s2048",
        activation_checkpointing=True,
        per_device_train_batch_size=4,
        max_length=2048,
    ),
    _fsdp("Mistral-7B-v0.3", "CPU offload s2048", fsdp_offload_params=True, max_length=2048),
    _fsdp("Llama-3.1-8B", "LoRA r16 s2048", use_peft=True, lora_r=16, max_length=2048),
    _fsdp(
        "Qwen2.5-1.5B",
        "LoRA r16 all-linear checkpointing b4 s2048",
        use_peft=True,
        lora_r=16,
        lora_target_modules="all-linear",
        activation_checkpointing=True,
        per_device_train_batch_size=4,
        max_length=2048,
    ),
)

# The same rank with one FSDP2 group per decoder layer and the root (fsdp_wrap "layers", plain fully_shard
# scripts): untied (the root keeps embedding and lm_head gathered) and tied.
FSDP_LAYERS_CASES: tuple[Case, ...] = (
    _fsdp("Llama-3.1-8B", "s2048 per-layer groups", fsdp_wrap="layers", max_length=2048),
    _fsdp(
        "Llama-3.1-8B",
        "checkpointing b4 s2048 per-layer groups",
        fsdp_wrap="layers",
        activation_checkpointing=True,
        per_device_train_batch_size=4,
        max_length=2048,
    ),
    _fsdp(
        "Llama-3.1-8B", "LoRA r16 s2048 per-layer groups", fsdp_wrap="layers", use_peft=True, lora_r=16, max_length=2048
    ),
    _fsdp(
        "Qwen2.5-1.5B",
        "checkpointing b4 s2048 per-layer groups",
        fsdp_wrap="layers",
        activation_checkpointing=True,
        per_device_train_batch_size=4,
        max_length=2048,
    ),
)

# A handful of cases for the tests: one per mechanism that most often goes wrong.
TEST_SUBSET = ("base", "eager", "checkpointing", "vocab 65536 tied", "bf16 adamw 8-bit", "accumulation 4")

GEMMA2 = {"model_type": "gemma2", "head_dim": 32, "num_key_value_heads": 4}

# Step 2 of a real SFTTrainer run on the CPU (TRL's torch fallback of the fused head). The vocabularies
# cross the head's tile width (32768 columns) and one case crosses its token chunk (4096 positions).
SFT_MATRIX: tuple[Case, ...] = (
    _sft("base"),
    _sft("vocab 32000 batch 4", {"per_device_train_batch_size": 4}, vocab_size=32000),
    _sft("vocab 65536 seq 128", {"max_length": 128}, vocab_size=65536),
    _sft("tied vocab 32000", tie_word_embeddings=True, vocab_size=32000),
    _sft("seq 128", {"max_length": 128}),
    _sft("seq 1024 batch 1", {"max_length": 1024, "per_device_train_batch_size": 1}),
    _sft("batch 1", {"per_device_train_batch_size": 1}),
    _sft("batch 8 seq 128", {"per_device_train_batch_size": 8, "max_length": 128}),
    _sft("eager", {"attn_implementation": "eager"}),
    _sft("bf16 weights", {"dtype": "bfloat16"}),
    _sft("bf16 eager vocab 32000", {"dtype": "bfloat16", "attn_implementation": "eager"}, vocab_size=32000),
    _sft("bf16 autocast (fp32 weights)", {"bf16": True}),
    _sft("bf16 autocast vocab 40000 seq 128", {"bf16": True, "max_length": 128}, vocab_size=40000),
    _sft("checkpointing", {"activation_checkpointing": True}),
    _sft("bf16 checkpointing GQA 8:2", {"dtype": "bfloat16", "activation_checkpointing": True}, num_key_value_heads=2),
    _sft("LoRA r16 q,v bf16", {"dtype": "bfloat16", "use_peft": True, "lora_r": 16}),
    _sft(
        "LoRA r8 all-linear checkpointing accumulation 2",
        {
            "use_peft": True,
            "lora_r": 8,
            "lora_target_modules": "all-linear",
            "activation_checkpointing": True,
            "gradient_accumulation_steps": 2,
        },
    ),
    _sft("adamw 8-bit", {"optim": "adamw_8bit"}),
    _sft("accumulation 2", {"gradient_accumulation_steps": 2}),
    _sft("packing", {"packing": True}),
    _sft("packing GQA 8:2 checkpointing", {"packing": True, "activation_checkpointing": True}, num_key_value_heads=2),
    _sft("packing eager", {"packing": True, "attn_implementation": "eager"}),
    _sft(
        "padding_free batch 4 longest 128",
        {"padding_free": True, "per_device_train_batch_size": 4, "longest_example": 128},
    ),
    _sft("completion-only (half the labels masked)", {"masked_label_fraction": 0.5}),
    _sft("rows padded to a longest example of 100", {"longest_example": 100}),
    _sft("Gemma-2 soft-capping eager", {"attn_implementation": "eager"}, **GEMMA2),
    _sft(
        "seq 5000 batch 1, one layer (two token chunks)",
        {"max_length": 5000, "per_device_train_batch_size": 1},
        num_hidden_layers=1,
    ),
)

# SFTTrainer scripts that leave bf16 (and activation_checkpointing) out of SFTConfig, which then turns them
# on: the CLI's TRL-defaults figure against the step that really runs. The issue that found it: float32
# weights, vocabulary 8000, intermediate 688, batch 4, max_length 256, text rows.
ISSUE_CONFIG: dict[str, Any] = {"vocab_size": 8000, "intermediate_size": 688}
ISSUE_SETUP = {"per_device_train_batch_size": 4}


def _trl(name: str, left: tuple[str, ...], setup: dict[str, Any], *, text: bool = False, **config: Any) -> Case:
    return Case(f"sft {name}", config, {"trainer": "sft", **setup}, left_to_trl=left, text_rows=text)


BF16 = ("bf16",)
SFT_TRL_DEFAULTS: tuple[Case, ...] = (
    _trl("float32 bf16 left to TRL text rows (the issue's case)", BF16, ISSUE_SETUP, text=True, **ISSUE_CONFIG),
    _trl("float32 bf16=false given text rows", (), ISSUE_SETUP, text=True, **ISSUE_CONFIG),
    _trl("float32 bf16 and checkpointing left to TRL", (*BF16, "activation_checkpointing"), ISSUE_SETUP),
    _trl("float32 tied bf16 left to TRL", BF16, ISSUE_SETUP, tie_word_embeddings=True, **ISSUE_CONFIG),
    _trl(
        "float32 seq 1024 batch 1 tiny GQA bf16 left to TRL",
        BF16,
        {"max_length": 1024, "per_device_train_batch_size": 1},
        **{**TINY, "num_key_value_heads": 2},
    ),
    _trl(
        "float32 GQA 8:4 hidden 512 vocab 16000 seq 128 bf16 left to TRL",
        BF16,
        {"max_length": 128},
        hidden_size=512,
        intermediate_size=1408,
        num_key_value_heads=4,
        vocab_size=16000,
    ),
    _trl(
        "float32 eager batch 8 seq 128 bf16 left to TRL",
        BF16,
        {"per_device_train_batch_size": 8, "max_length": 128, "attn_implementation": "eager"},
    ),
    _trl("bf16 weights bf16 left to TRL", BF16, {**ISSUE_SETUP, "dtype": "bfloat16"}, **ISSUE_CONFIG),
)

# Fast, and together they cover the tile temporaries, two vocabulary tiles with autocast casts, the
# packed mask with repeated grouped keys, LoRA with checkpointing and gradient accumulation.
SFT_TEST_SUBSET = (
    "sft bf16 autocast vocab 40000 seq 128",
    "sft packing GQA 8:2 checkpointing",
    "sft LoRA r8 all-linear checkpointing accumulation 2",
)

# The real-size presets under SFTTrainer, simulated (its fused head's torch fallback, device cpu).
SFT_PRESET_CASES: tuple[Case, ...] = tuple(
    Case(f"sft {case.name}", case.config, {**case.setup, "trainer": "sft"}, case.preset) for case in PRESET_CASES
)


def error(estimate: int, truth: int) -> float:
    return (estimate - truth) / truth


def summary(errors: list[float]) -> tuple[float, float]:
    """(median, worst) of the absolute relative errors."""
    absolute = [abs(e) for e in errors]
    return statistics.median(absolute), max(absolute)
