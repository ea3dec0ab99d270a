"""The knowledge lab's fact set: the shipped file, the generator, and field/line errors for bad files."""

from __future__ import annotations

import json

import pytest

from lrexplorer.knowledge import corpus
from lrexplorer.knowledge.assets import FACTS_FILE
from lrexplorer.knowledge.facts import FactFileError, load_facts, max_paraphrases
from lrexplorer.knowledge.world import RELATIONS

GOOD = {
    "fact": "Ada Val was born in Hollin.",
    "paraphrases": ["Hollin is the town where Ada Val was born."],
    "questions": ["Where was Ada Val born?"],
    "answer": "Hollin",
    "candidates": ["Hollin", "Lirra"],
}


def write(tmp_path, rows):
    path = tmp_path / "facts.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_shipped_fact_set_is_the_generator_output():
    expected = "".join(corpus.iter_jsonl(corpus.lab_fact_rows()))
    assert FACTS_FILE.read_text(encoding="utf-8") == expected


def test_shipped_fact_set_loads_with_its_paraphrase_count():
    facts = load_facts()
    assert len(facts) == corpus.LAB_PEOPLE * len(RELATIONS)
    assert max_paraphrases(facts) == len(RELATIONS[0].statements) - 1
    for f in facts:
        assert f.answer in f.candidates and len(f.candidates) == corpus.CANDIDATES
        assert f.answer in f.fact and all(f.answer in p and f.entity in p for p in f.paraphrases)
        assert len(set(f.paraphrases)) == len(f.paraphrases) and f.fact not in f.paraphrases


def test_lab_people_never_appear_in_pretraining():
    lab_surnames = {f.entity.split()[-1] for f in load_facts()}
    docs = corpus.PretrainCorpus(0).documents(4000)
    words = {w.strip(".,?:") for d in docs for w in d.split()}
    assert not lab_surnames & words
    assert {p.name.split()[-1] for p in corpus.pretrain_people(0)}.isdisjoint(lab_surnames)


@pytest.mark.parametrize("field", ["fact", "paraphrases", "questions", "answer", "candidates"])
def test_missing_field_is_named_with_its_line(tmp_path, field):
    bad = {k: v for k, v in GOOD.items() if k != field}
    with pytest.raises(FactFileError) as info:
        load_facts(write(tmp_path, [GOOD, GOOD, bad]))
    assert info.value.field == field and info.value.line == 3
    assert f"line 3: field '{field}' is missing" in str(info.value)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"paraphrases": []}, "paraphrases", "non-empty list"),
        ({"questions": "Where?"}, "questions", "non-empty list"),
        ({"candidates": ["Hollin"]}, "candidates", "at least 2"),
        ({"candidates": ["Lirra", "Lirra", "Hollin"]}, "candidates", "repeats"),
        ({"answer": "Velder"}, "answer", "not one of the candidates"),
        ({"fact": ""}, "fact", "non-empty string"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_bad_field_values_are_named(tmp_path, change, field, words):
    with pytest.raises(FactFileError) as info:
        load_facts(write(tmp_path, [{**GOOD, **change}]))
    assert info.value.field == field and info.value.line == 1 and words in str(info.value)


def test_bad_json_and_empty_files(tmp_path):
    with pytest.raises(FactFileError, match="line 2: not valid JSON"):
        load_facts(write(tmp_path, [GOOD, "{oops"]))
    with pytest.raises(FactFileError, match="no facts"):
        load_facts(write(tmp_path, []))
    with pytest.raises(FactFileError, match="cannot be read"):
        load_facts(tmp_path / "missing.jsonl")


def test_blank_lines_keep_line_numbers(tmp_path):
    bad = {k: v for k, v in GOOD.items() if k != "answer"}
    with pytest.raises(FactFileError, match="line 3:"):
        load_facts(write(tmp_path, [GOOD, "", bad]))
