"""The generation-memory validation matrix: small models of each generation family whose real `generate`
call is measured op by op on the CPU (`lrexplorer.memory.pytorch.measure_generate`).

Llama with full, grouped and single key/value heads, Mistral with sliding windows shorter than the prompt
(and reached while decoding), Qwen2 with tied embeddings and with sliding layers from a given layer on;
float32 and bfloat16, sdpa and eager, batches 1 to 16, prompts 64 to 2048, up to 512 new tokens, with
min_new_tokens = max_new_tokens (every token generated, and its two logits processors), smaller or unset.
Used by `bench/memory_accuracy.py --task generate` (the full matrix) and the tests (a subset).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lrexplorer.catalogues.architecture import Architecture, from_config
from lrexplorer.memory.generation import GenerationSetup

# Two layers of a small model: each case's real call takes well under a minute on two CPU cores.
GEN_CONFIG: dict[str, Any] = {
    "vocab_size": 4000,
    "hidden_size": 128,
    "intermediate_size": 352,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "tie_word_embeddings": False,
    "max_position_embeddings": 8192,
    "eos_token_id": 2,
}
GQA = {"num_attention_heads": 8, "num_key_value_heads": 2}


@dataclass(frozen=True)
class GenCase:
    name: str
    family: str
    dtype: str
    attn: str
    batch: int
    prompt: int
    new: int
    config: dict[str, Any] = field(default_factory=dict)  # changes to GEN_CONFIG
    min_new: int | None = -1  # -1: min_new_tokens = max_new_tokens; None: unset

    def build(self) -> tuple[dict[str, Any], Architecture, GenerationSetup]:
        config = {"model_type": self.family, **GEN_CONFIG, **self.config}
        if self.family == "mistral":
            config.setdefault("sliding_window", None)
        setup = GenerationSetup(
            batch_size=self.batch,
            prompt_length=self.prompt,
            max_new_tokens=self.new,
            min_new_tokens=self.new if self.min_new == -1 else self.min_new,
            dtype=self.dtype,
            attn_implementation=self.attn,
            device="cpu",
            eos=config["eos_token_id"] is not None,
        )
        return config, from_config(config, self.name), setup


def _g(name: str, family: str, dtype: str, attn: str, b: int, P: int, N: int, **config: Any) -> GenCase:
    min_new = config.pop("min_new", -1)
    return GenCase(name, family, dtype, attn, b, P, N, config, min_new)


def _sw(window: int) -> dict[str, Any]:
    return {**GQA, "sliding_window": window}


QWEN2_MIXED = {**GQA, "use_sliding_window": True, "max_window_layers": 1, "num_hidden_layers": 3}

GENERATE_MATRIX: tuple[GenCase, ...] = (
    _g("llama MHA fp32 sdpa b1 P64 N32", "llama", "float32", "sdpa", 1, 64, 32),
    _g("llama MHA fp32 sdpa b4 P512 N16", "llama", "float32", "sdpa", 4, 512, 16),
    _g("llama MHA fp32 eager b2 P256 N16", "llama", "float32", "eager", 2, 256, 16),
    _g("llama MHA bf16 eager b4 P256 N8", "llama", "bfloat16", "eager", 4, 256, 8),
    _g("llama MHA bf16 sdpa b16 P128 N32", "llama", "bfloat16", "sdpa", 16, 128, 32),
    _g("llama GQA 8:2 fp32 sdpa b2 P1024 N16", "llama", "float32", "sdpa", 2, 1024, 16, **GQA),
    _g("llama GQA 8:2 fp32 eager b2 P512 N32", "llama", "float32", "eager", 2, 512, 32, **GQA),
    _g("llama GQA 8:2 bf16 sdpa b8 P64 N256", "llama", "bfloat16", "sdpa", 8, 64, 256, **GQA),
    _g("llama MQA 4:1 bf16 eager b4 P128 N128", "llama", "bfloat16", "eager", 4, 128, 128, num_key_value_heads=1),
    _g("llama MHA fp32 sdpa b1 P2048 N8", "llama", "float32", "sdpa", 1, 2048, 8),
    _g("llama GQA 8:2 fp32 sdpa b16 P64 N64 V32000", "llama", "float32", "sdpa", 16, 64, 64, **GQA, vocab_size=32000),
    _g("llama MHA fp32 sdpa b8 P64 N512 L4 (long decode)", "llama", "float32", "sdpa", 8, 64, 512, num_hidden_layers=4),
    _g("llama GQA 8:2 fp32 eager b8 P64 N256", "llama", "float32", "eager", 8, 64, 256, **GQA),
    _g("llama MQA 4:1 bf16 eager b8 P64 N256", "llama", "bfloat16", "eager", 8, 64, 256, num_key_value_heads=1),
    _g("llama MHA bf16 eager b16 P64 N64 V32000", "llama", "bfloat16", "eager", 16, 64, 64, vocab_size=32000),
    _g(
        "llama GQA 8:2 fp32 sdpa b16 P64 N64 V32000 min_new_tokens 8",
        "llama",
        "float32",
        "sdpa",
        16,
        64,
        64,
        **GQA,
        vocab_size=32000,
        min_new=8,
    ),
    _g(
        "llama GQA 8:2 fp32 sdpa b16 P64 N64 V32000 no EOS token",
        "llama",
        "float32",
        "sdpa",
        16,
        64,
        64,
        **GQA,
        vocab_size=32000,
        eos_token_id=None,
        min_new=None,
    ),
    _g("mistral SW64 fp32 sdpa b2 P256 N32", "mistral", "float32", "sdpa", 2, 256, 32, **_sw(64)),
    _g("mistral SW128 bf16 sdpa b4 P512 N16", "mistral", "bfloat16", "sdpa", 4, 512, 16, **_sw(128)),
    _g("mistral SW64 fp32 eager b2 P256 N16", "mistral", "float32", "eager", 2, 256, 16, **_sw(64)),
    _g(
        "mistral SW256 bf16 sdpa b8 P128 N256 (window reached decoding)",
        "mistral",
        "bfloat16",
        "sdpa",
        8,
        128,
        256,
        **_sw(256),
    ),
    _g("mistral SW32 bf16 eager b1 P1024 N16", "mistral", "bfloat16", "eager", 1, 1024, 16, **_sw(32)),
    _g(
        "mistral SW384 fp32 eager b4 P64 N512 (window reached decoding)",
        "mistral",
        "float32",
        "eager",
        4,
        64,
        512,
        **_sw(384),
    ),
    _g("qwen2 tied fp32 sdpa b4 P256 N16", "qwen2", "float32", "sdpa", 4, 256, 16, **GQA, tie_word_embeddings=True),
    _g(
        "qwen2 tied bf16 sdpa b16 P64 N32 V151936 h64",
        "qwen2",
        "bfloat16",
        "sdpa",
        16,
        64,
        32,
        hidden_size=64,
        intermediate_size=176,
        num_key_value_heads=2,
        tie_word_embeddings=True,
        vocab_size=151936,
    ),
    _g("qwen2 tied fp32 eager b2 P512 N16", "qwen2", "float32", "eager", 2, 512, 16, **GQA, tie_word_embeddings=True),
    _g("qwen2 tied bf16 sdpa b1 P2048 N32", "qwen2", "bfloat16", "sdpa", 1, 2048, 32, **GQA, tie_word_embeddings=True),
    _g(
        "qwen2 tied fp32 sdpa b8 P128 N128 L3 h192 H6 kv3",
        "qwen2",
        "float32",
        "sdpa",
        8,
        128,
        128,
        num_hidden_layers=3,
        hidden_size=192,
        intermediate_size=512,
        num_attention_heads=6,
        num_key_value_heads=3,
        tie_word_embeddings=True,
    ),
    _g(
        "qwen2 sliding from layer 1 SW32 fp32 sdpa b2 P128 N16",
        "qwen2",
        "float32",
        "sdpa",
        2,
        128,
        16,
        **QWEN2_MIXED,
        sliding_window=32,
    ),
    _g(
        "qwen2 sliding from layer 1 SW32 bf16 eager b2 P128 N16",
        "qwen2",
        "bfloat16",
        "eager",
        2,
        128,
        16,
        **QWEN2_MIXED,
        sliding_window=32,
    ),
)

# One case per mechanism that most often goes wrong, fast enough for the test suite (about a minute):
# grouped heads, eager's float32 softmax, a sliding window shorter than the prompt, the processors at the
# last decode step with a large vocabulary, tied embeddings, and sliding layers beside full ones.
GENERATE_TEST_SUBSET = (
    "llama GQA 8:2 fp32 eager b2 P512 N32",
    "llama MQA 4:1 bf16 eager b4 P128 N128",
    "mistral SW64 fp32 sdpa b2 P256 N32",
    "llama GQA 8:2 fp32 sdpa b16 P64 N64 V32000",
    "qwen2 tied bf16 sdpa b1 P2048 N32",
    "qwen2 sliding from layer 1 SW32 bf16 eager b2 P128 N16",
)
