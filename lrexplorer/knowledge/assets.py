"""Where the knowledge lab's shipped files live, and loading the base model and its tokenizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lrexplorer.core.resources import ASSETS

KNOWLEDGE_DIR = ASSETS / "knowledge"
FACTS_FILE = KNOWLEDGE_DIR / "facts.jsonl"
MODEL_DIR = KNOWLEDGE_DIR / "reader"


def load_tokenizer(path: Path | str = MODEL_DIR) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def load_model(path: Path | str = MODEL_DIR) -> Any:
    """The base model in float32 (weights ship in float16; the CPU trains and scores in float32)."""
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
