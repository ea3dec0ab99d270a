"""Generate text with a trained run's model: the "try it" box under a finished run.

The model is loaded from the run's `final_model/` folder with transformers on the CPU (a few MB for the
built-in model; a large model would rather be served elsewhere). A chat model gets the prompt as a
user message through its chat template, exactly the format it was fine-tuned on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_NEW_TOKENS = 256


@dataclass
class LoadedModel:
    path: Path
    model: Any
    tokenizer: Any

    @property
    def chat(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))


def load(model_dir: Path) -> LoadedModel:
    """Model and tokenizer saved by the run (imports torch and transformers here, not at page start)."""
    from .runs.merge import load_for_generation

    model_dir = Path(model_dir)
    model, tokenizer = load_for_generation(model_dir)  # a LoRA run's adapter gets its base
    return LoadedModel(model_dir, model, tokenizer)


def generate(loaded: LoadedModel, prompt: str, max_new_tokens: int = 24, temperature: float = 0.0) -> str:
    """The model's continuation of `prompt` (greedy when temperature is 0), special tokens removed.

    Whitespace is kept: a barely trained model often answers with newlines only, and the page says so
    rather than showing nothing."""
    import torch

    tok = loaded.tokenizer
    if loaded.chat:
        text = tok.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
    else:
        text = prompt
    inputs = tok(text, return_tensors="pt", add_special_tokens=not loaded.chat)
    sample = temperature > 0
    with torch.no_grad():
        out = loaded.model.generate(
            **inputs,
            max_new_tokens=max(1, min(int(max_new_tokens), MAX_NEW_TOKENS)),
            do_sample=sample,
            temperature=temperature if sample else None,
            top_p=None,
            top_k=None,
            pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
            eos_token_id=tok.eos_token_id,
        )
    return tok.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
