"""Scoring answers as the paper does: the candidate with the highest log-probability wins.

For each question, `score_questions` gives the summed log-probability of each candidate's tokens after
the prompt (what lm-evaluation-harness calls the loglikelihood of a continuation; the paper scores its
multiple-choice questions this way) and the greedy answer, for exact match. Each prompt runs through
the model once: its key/value cache serves the greedy decoding and then, repeated once per candidate,
the candidates. Prompts are padded on the left, so every prompt ends at the same place; position ids
come from the attention mask, as `generate` computes them. Prompt and candidate are tokenized apart;
the byte-level pre-tokenizer splits at the space that starts every candidate, so the joined ids equal
those of the joined text.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lrexplorer.knowledge.prompts import answer_text

BATCH = 64  # questions per forward pass
MAX_NEW_TOKENS = 6  # greedy answer length; every built-in answer is shorter


@dataclass(frozen=True)
class Question:
    prompt: str
    answer: str
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class Scores:
    logprobs: list[list[float]]  # per question, per candidate
    answers: list[str]  # greedy answer per question


def score_questions(
    model: Any,
    tokenizer: Any,
    questions: list[Question],
    greedy: bool = True,
    done: Callable[[int], None] | None = None,
) -> Scores:
    """Candidate log-probabilities and (if `greedy`) greedy answers; `done(n)` after each batch of n questions."""
    import torch

    logprobs: list[list[float]] = [[] for _ in questions]
    answers = [""] * len(questions)
    # Batches hold questions with the same number of candidates, so the cache repeats evenly.
    order = sorted(range(len(questions)), key=lambda i: (len(questions[i].candidates), i))
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            groups: dict[int, list[int]] = {}
            for i in chunk:
                groups.setdefault(len(questions[i].candidates), []).append(i)
            for indices in groups.values():
                batch = [questions[i] for i in indices]
                scored, greedy_texts = _score_batch(model, tokenizer, batch, greedy)
                for i, s, g in zip(indices, scored, greedy_texts):
                    logprobs[i], answers[i] = s, g
            if done is not None:
                done(len(chunk))
    return Scores(logprobs, answers)


def _score_batch(
    model: Any, tokenizer: Any, batch: list[Question], greedy: bool
) -> tuple[list[list[float]], list[str]]:
    import torch

    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        enc = tokenizer([q.prompt for q in batch], return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tokenizer.padding_side = side
    mask = enc["attention_mask"]
    lengths = mask.sum(-1)
    out = model(
        input_ids=enc["input_ids"], attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0), use_cache=True
    )
    first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)  # next-token log-probs after each prompt
    cache = out.cache
    # Decoding appends to a cache; it gets its own copy, so the prompt's stays as it is for the candidates.
    texts = _greedy(model, tokenizer, copy.deepcopy(cache), mask, lengths, first) if greedy else [""] * len(batch)

    n = len(batch[0].candidates)
    ids = tokenizer([answer_text(c) for q in batch for c in q.candidates], add_special_tokens=False)["input_ids"]
    span = max(len(x) for x in ids)
    cand = torch.full((len(ids), span), tokenizer.pad_token_id, dtype=torch.long)
    cand_mask = torch.zeros_like(cand)
    for row, x in enumerate(ids):
        cand[row, : len(x)] = torch.tensor(x)
        cand_mask[row, : len(x)] = 1
    cache.batch_repeat_interleave(n)
    rest = torch.zeros(len(ids), span, first.shape[-1])
    if span > 1:  # tokens after the first are predicted from the candidate's own earlier tokens
        out = model(
            input_ids=cand[:, :-1],
            attention_mask=torch.cat([mask.repeat_interleave(n, 0), cand_mask[:, :-1]], 1),
            position_ids=lengths.repeat_interleave(n)[:, None] + torch.arange(span - 1),
            cache=cache,
        )
        rest[:, 1:] = torch.log_softmax(out.logits.float(), dim=-1)
    rest[:, 0] = first.repeat_interleave(n, 0)
    token_lp = rest.gather(-1, cand[:, :, None]).squeeze(-1) * cand_mask
    sums = token_lp.sum(-1).tolist()
    return [sums[i * n : (i + 1) * n] for i in range(len(batch))], texts


def _greedy(model: Any, tokenizer: Any, cache: Any, mask: Any, lengths: Any, first: Any) -> list[str]:
    """Greedy decoding from the prompts' cache: what `generate(do_sample=False)` returns, cut at the end token."""
    import torch

    token = first.argmax(-1)
    steps = [token]
    for step in range(1, MAX_NEW_TOKENS):
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
        out = model(
            input_ids=token[:, None],
            attention_mask=mask,
            position_ids=(lengths + step - 1)[:, None],
            cache=cache,
        )
        token = out.logits[:, -1].argmax(-1)
        steps.append(token)
    rows = torch.stack(steps, 1).tolist()
    texts = []
    for row in rows:
        kept = row[: row.index(tokenizer.eos_token_id)] if tokenizer.eos_token_id in row else row
        texts.append(tokenizer.decode(kept, skip_special_tokens=True).split("\n")[0].strip())
    return texts


def choice_accuracy(questions: list[Question], logprobs: list[list[float]]) -> float:
    """Share of questions whose answer has the highest log-probability (ties go to the first candidate)."""
    right = sum(q.candidates[max(range(len(s)), key=s.__getitem__)] == q.answer for q, s in zip(questions, logprobs))
    return right / len(questions) if questions else 0.0


def exact_match(questions: list[Question], answers: list[str]) -> float:
    return sum(a == q.answer for q, a in zip(questions, answers)) / len(questions) if questions else 0.0
