"""Scoring against the real model: candidate log-probabilities and greedy answers equal a plain forward and `generate`."""

from __future__ import annotations

import pytest

from lrexplorer.knowledge import assets
from lrexplorer.knowledge.facts import load_facts
from lrexplorer.knowledge.prompts import answer_text, qa_prompt
from lrexplorer.knowledge.retrieve import Retriever
from lrexplorer.knowledge.score import Question, choice_accuracy, exact_match, score_questions


@pytest.fixture(scope="module")
def setup():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = assets.load_tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    model = LlamaForCausalLM(config).eval()
    facts = load_facts()[:12]
    contexts = Retriever([f.fact for f in facts]).contexts([f.questions[0] for f in facts], 3)
    questions = []
    for i, (f, c) in enumerate(zip(facts, contexts)):
        # Mixed prompt lengths (with and without context) and candidate counts (4, and 3 for odd rows).
        others = [x for x in f.candidates if x != f.answer]
        candidates = f.candidates if i % 2 == 0 else (*others[:2], f.answer)
        questions.append(Question(qa_prompt(f.questions[0], c if i % 3 else None), f.answer, candidates))
    return model, tokenizer, questions


def reference_logprob(model, tokenizer, prompt: str, candidate: str) -> float:
    """log P(candidate | prompt) from one unpadded forward pass of the joined text."""
    import torch

    ids = tokenizer(prompt + answer_text(candidate), add_special_tokens=False)["input_ids"]
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].double(), dim=-1)
    return float(sum(logprobs[t - 1, ids[t]] for t in range(n_prompt, len(ids))))


def test_candidate_logprobs_equal_the_models_own(setup):
    model, tokenizer, questions = setup
    scores = score_questions(model, tokenizer, questions)
    assert [len(s) for s in scores.logprobs] == [len(q.candidates) for q in questions]
    for q, row in zip(questions, scores.logprobs):
        for candidate, value in zip(q.candidates, row):
            assert value == pytest.approx(reference_logprob(model, tokenizer, q.prompt, candidate), abs=1e-4)


def test_multi_token_candidates_are_scored_whole(setup):
    model, tokenizer, questions = setup
    prompt = questions[0].prompt
    candidates = ("Kestrel Bay", "Tamsin Cross", "Lirra")
    assert len(tokenizer(answer_text("Kestrel Bay"), add_special_tokens=False)["input_ids"]) > 1
    row = score_questions(model, tokenizer, [Question(prompt, "Lirra", candidates)]).logprobs[0]
    assert row == pytest.approx([reference_logprob(model, tokenizer, prompt, c) for c in candidates], abs=1e-4)


def test_greedy_answers_equal_generate(setup):
    model, tokenizer, questions = setup
    answers = score_questions(model, tokenizer, questions).answers
    for q, answer in zip(questions, answers):
        enc = tokenizer(q.prompt, return_tensors="pt", add_special_tokens=False)
        out = model.generate(
            **enc,
            max_new_tokens=6,
            do_sample=False,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        new = out[0, enc["input_ids"].shape[1] :].tolist()
        new = new[: new.index(tokenizer.eos_token_id)] if tokenizer.eos_token_id in new else new
        assert answer == tokenizer.decode(new, skip_special_tokens=True).split("\n")[0].strip()


def test_accuracy_counts_the_highest_candidate():
    qs = [Question("p", "b", ("a", "b")), Question("p", "a", ("a", "b")), Question("p", "c", ("a", "b", "c"))]
    assert choice_accuracy(qs, [[-2.0, -1.0], [-3.0, -0.5], [-1.0, -1.0, -0.1]]) == pytest.approx(2 / 3)
    assert exact_match(qs, ["b", "b", "c"]) == pytest.approx(2 / 3)
