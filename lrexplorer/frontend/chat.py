"""Chat with a trained run's model: the panel under a finished run, and its side-by-side comparison.

The model is loaded from the run's `final_model/` or one of its `checkpoint-N/` folders with transformers
on the CPU (a few MB for the built-in model; a large model would rather be served elsewhere). A chat model
gets the whole conversation through its chat template, exactly the format it was fine-tuned on. Tokens
are streamed as they come: `model.generate` runs in a thread and feeds a `TextIteratorStreamer`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_NEW_TOKENS = 256
# The sampling controls, named and defaulted as in transformers' GenerationConfig (greedy by default).
SAMPLING_DEFAULTS: dict[str, Any] = {
    "max_new_tokens": 32,
    "do_sample": False,
    "temperature": 1.0,
    "top_p": 1.0,
    "top_k": 50,
    "repetition_penalty": 1.0,
}
Message = dict[str, str]


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
    from lrexplorer.runs.exports.merge import load_for_generation

    model_dir = Path(model_dir)
    model, tokenizer = load_for_generation(model_dir)  # a LoRA run's adapter gets its base
    return LoadedModel(model_dir, model, tokenizer)


def model_folders(run_dir: Path) -> list[Path]:
    """What a run can be chatted with: final_model/ (when saved), then its checkpoints, newest first."""
    from lrexplorer.runs.folder import store

    final = store.final_model(run_dir)
    return ([final] if final is not None else []) + list(reversed(store.checkpoints(run_dir)))


def generation_config(loaded: LoadedModel, **sampling: Any) -> Any:
    """A `GenerationConfig` from the sampling controls (names as in transformers), validated by transformers:
    a value it refuses raises ValueError naming the field."""
    from transformers import GenerationConfig

    values = {**SAMPLING_DEFAULTS, **sampling}
    values["max_new_tokens"] = max(1, min(int(values["max_new_tokens"]), MAX_NEW_TOKENS))
    if not values["do_sample"]:  # greedy: the sampling knobs would only draw warnings
        values.update(temperature=None, top_p=None, top_k=None)
    tok = loaded.tokenizer
    config = GenerationConfig(
        **values,
        pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    config.validate(strict=True)
    return config


def prompt_inputs(loaded: LoadedModel, messages: Sequence[Message]) -> Any:
    """The conversation as model inputs: through the chat template (with the assistant's turn opened), or,
    for a model without one, the last user message as plain text."""
    tok = loaded.tokenizer
    if loaded.chat:
        text = tok.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    else:
        text = messages[-1]["content"]
    return tok(text, return_tensors="pt", add_special_tokens=not loaded.chat)


def stream_reply(loaded: LoadedModel, messages: Sequence[Message], **sampling: Any) -> Iterator[str]:
    """The model's reply to the conversation, piece by piece as it is generated (special tokens removed).

    Whitespace is kept: a barely trained model often answers with newlines only, and the page says so
    rather than showing nothing."""
    import torch
    from transformers import TextIteratorStreamer

    config = generation_config(loaded, **sampling)
    inputs = prompt_inputs(loaded, messages)
    streamer = TextIteratorStreamer(loaded.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=300.0)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with torch.no_grad():
                loaded.model.generate(**inputs, generation_config=config, streamer=streamer)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, which raises it
            failure.append(exc)
            streamer.end()

    worker = threading.Thread(target=run, daemon=True, name="generate")
    worker.start()
    yield from streamer
    worker.join()
    if failure:
        raise failure[0]


def reply(loaded: LoadedModel, messages: Sequence[Message], **sampling: Any) -> str:
    """The whole reply at once (the CLI, tests)."""
    return "".join(stream_reply(loaded, messages, **sampling))
