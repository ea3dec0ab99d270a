"""The offline defaults: the built-in model (a small Llama built from a config) and bundled data.

`builtin:tiny` has no weights on disk: it is created from `TINY_CONFIG` after `set_seed(seed)`, so
the same seed gives the same initial weights in a run and in its exported script. The tokenizer and
the datasets ship in `assets/`.
"""

from __future__ import annotations

from typing import Any

from lrexplorer.core.resources import ASSETS

TOKENIZER_DIR = ASSETS / "tokenizer"
DATASETS_DIR = ASSETS / "datasets"
PREFIX = "builtin:"

# Llama architecture, about 3.4 million parameters: big enough to learn the bundled tasks, small
# enough for a few steps per second on two CPU cores. Grouped-query attention (2 KV heads for 4
# query heads) as in current Llama models. vocab_size and special token ids come from the tokenizer.
TINY_CONFIG: dict[str, Any] = {
    "hidden_size": 256,
    "intermediate_size": 688,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 512,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
}
BUILTIN_MODELS = {"tiny": TINY_CONFIG}
DATASET_DESCRIPTIONS = {
    "arithmetic": "2,000 chat examples of small additions and subtractions; the loss falls clearly within a minute.",
    "facts": "24 invented facts asked in six phrasings: five train, the sixth is held out for evaluation.",
}


def is_builtin(ref: str) -> bool:
    return ref.startswith(PREFIX)


def builtin_name(ref: str) -> str:
    return ref[len(PREFIX) :]


def dataset_files(name: str) -> dict[str, str]:
    """split -> JSONL path of a bundled dataset (its folder also loads with `load_dataset(folder)`)."""
    folder = DATASETS_DIR / name
    return {
        split: str(folder / f"{split}.jsonl") for split in ("train", "test") if (folder / f"{split}.jsonl").is_file()
    }


def builtin_datasets() -> list[str]:
    return (
        sorted(p.name for p in DATASETS_DIR.iterdir() if (p / "train.jsonl").is_file()) if DATASETS_DIR.is_dir() else []
    )


def llama_config_kwargs(name: str, tokenizer: Any) -> dict[str, Any]:
    """Everything `LlamaConfig(**kwargs)` needs for built-in model `name` with this tokenizer."""
    kwargs = dict(BUILTIN_MODELS[name])
    kwargs.update(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    return kwargs


def load_tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(TOKENIZER_DIR))


def make_model(name: str, tokenizer: Any, seed: int, attn_implementation: str, dtype: Any = None) -> Any:
    """A freshly initialised built-in model; the seed fixes its weights."""
    from transformers import LlamaConfig, LlamaForCausalLM, set_seed

    config = LlamaConfig(**llama_config_kwargs(name, tokenizer))
    config._attn_implementation = attn_implementation
    set_seed(seed)
    model = LlamaForCausalLM(config)
    if dtype is not None:
        model = model.to(dtype)
    return model
