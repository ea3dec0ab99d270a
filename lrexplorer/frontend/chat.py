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
# A reply is cut after this many seconds (transformers' `max_time`): one session's chat must not hold the
# model, and the CPU, for minutes while other sessions wait.
TIME_LIMIT_S = 20.0
# Characters kept of a message before it is tokenized at all: a pasted 200 KB prompt costs its tokenization
# before it can be cut to the model's length. Tokens run to a few characters each; 16 per token is ample.
CHARS_PER_TOKEN_BOUND = 16
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


def context_length(loaded: LoadedModel) -> int:
    """The most tokens the model takes at once (its position embeddings; the tokenizer's limit if lower)."""
    limits = [
        getattr(loaded.model.config, "max_position_embeddings", None),
        getattr(loaded.tokenizer, "model_max_length", None),
    ]
    found = [int(n) for n in limits if isinstance(n, int) and 0 < n < 10**8]
    return min(found) if found else 2048


def _encode(loaded: LoadedModel, messages: Sequence[Message]) -> Any:
    tok = loaded.tokenizer
    if loaded.chat:
        text = tok.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    else:
        text = messages[-1]["content"]
    return tok(text, return_tensors="pt", add_special_tokens=not loaded.chat)


def prompt_inputs(
    loaded: LoadedModel, messages: Sequence[Message], new_tokens: int = 0, notes: list[str] | None = None
) -> Any:
    """The conversation as model inputs: through the chat template (with the assistant's turn opened), or, for a
    model without one, the last user message as plain text. Cut to what the model can read with room for
    `new_tokens`: the oldest messages go first, then the start of the last one (its end, where the question
    usually is, is kept). What was cut is said in `notes`."""
    budget = max(1, context_length(loaded) - new_tokens)
    kept = [dict(m) for m in messages]
    last = kept[-1]["content"]
    if len(last) > budget * CHARS_PER_TOKEN_BOUND:
        kept[-1]["content"] = last[-budget * CHARS_PER_TOKEN_BOUND :]
    inputs = _encode(loaded, kept)
    dropped = 0
    while inputs["input_ids"].shape[-1] > budget and len(kept) > 1:
        kept.pop(0)
        dropped += 1
        inputs = _encode(loaded, kept)
    cut_chars = len(last) - len(kept[-1]["content"])
    if inputs["input_ids"].shape[-1] > budget:  # the last message alone is too long: keep its end
        tok, content = loaded.tokenizer, kept[-1]["content"]
        ids = tok(content, add_special_tokens=False)["input_ids"]
        overflow = inputs["input_ids"].shape[-1] - budget
        kept[-1]["content"] = tok.decode(ids[overflow + 1 :], skip_special_tokens=True)
        cut_chars = len(last) - len(kept[-1]["content"])
        inputs = _encode(loaded, kept)
        if inputs["input_ids"].shape[-1] > budget:  # a template longer than the budget: keep the prompt's end
            inputs = {k: v[..., -budget:] for k, v in inputs.items()}
    if notes is not None and (dropped or cut_chars > 0):
        parts = [f"the {dropped} oldest message{'s' if dropped != 1 else ''}"] if dropped else []
        if cut_chars > 0:
            parts.append(f"the first {cut_chars:,} characters of the last message")
        notes.append(
            f"The model reads at most {context_length(loaded):,} tokens, the reply included: "
            + " and ".join(parts)
            + " were left out."
        )
    return inputs


def stream_reply(
    loaded: LoadedModel, messages: Sequence[Message], notes: list[str] | None = None, **sampling: Any
) -> Iterator[str]:
    """The model's reply to the conversation, piece by piece as it is generated (special tokens removed). The
    conversation is cut to the model's length and the reply to TIME_LIMIT_S seconds; `notes` says what was cut.

    Whitespace is kept: a barely trained model often answers with newlines only, and the page says so
    rather than showing nothing."""
    import torch
    from transformers import TextIteratorStreamer

    config = generation_config(loaded, **sampling)
    config.max_time = TIME_LIMIT_S
    inputs = prompt_inputs(loaded, messages, config.max_new_tokens, notes)
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


def reply(loaded: LoadedModel, messages: Sequence[Message], notes: list[str] | None = None, **sampling: Any) -> str:
    """The whole reply at once (the CLI, tests)."""
    return "".join(stream_reply(loaded, messages, notes, **sampling))
