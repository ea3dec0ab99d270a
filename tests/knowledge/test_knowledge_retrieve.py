"""BM25 retrieval (bm25s) over the fact documents: the asked fact comes back."""

from __future__ import annotations

import pytest

from lrexplorer.knowledge.facts import load_facts
from lrexplorer.knowledge.retrieve import Retriever


def test_the_right_document_ranks_first():
    docs = [
        "Ada Valisk was born in Hollin.",
        "Ada Valisk plays the harp.",
        "Tom Corden was born in Lirra.",
        "Tom Corden has a pet owl.",
    ]
    retriever = Retriever(docs)
    assert retriever.top_k(["Where was Tom Corden born?"], 1) == [[2]]
    assert retriever.top_k(["Ada Valisk plays which instrument?"], 2)[0][0] == 1
    assert retriever.contexts(["What pet does Tom Corden have?"], 1) == [["Tom Corden has a pet owl."]]


def test_shipped_questions_find_their_fact():
    facts = load_facts()
    retriever = Retriever([f.fact for f in facts])
    asked = [(i, q) for i, f in enumerate(facts) for q in f.questions]
    top = retriever.top_k([q for _, q in asked], 3)
    # Every document retrieved is about the person asked about, and the asked fact is almost always among them.
    assert all(facts[j].entity == facts[i].entity for (i, _), row in zip(asked, top) for j in row)
    recall = sum(i in row for (i, _), row in zip(asked, top)) / len(asked)
    assert recall >= 0.9


def test_k_is_bounded_and_checked():
    retriever = Retriever(["one fact.", "another fact."])
    assert len(retriever.top_k(["fact"], 10)[0]) == 2
    with pytest.raises(ValueError, match="top_k"):
        retriever.top_k(["fact"], 0)
