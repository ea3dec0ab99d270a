"""The knowledge lab's fact set: the shipped file, the generator, and field/line errors for bad files."""

from __future__ import annotations

import json

import pytest

from lrexplorer.knowledge import corpus
from lrexplorer.knowledge.assets import FACTS_FILE
from lrexplorer.knowledge.facts import FactFileError, load_facts, max_paraphrases, parse_text
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


def test_a_line_separator_inside_a_json_string_keeps_the_line_whole(tmp_path):
    # json.dumps writes U+2028 as is when asked not to escape; str.splitlines would break the line there
    row = {**GOOD, "fact": "Ada Val was born in Hollin.\u2028She moved at ten.", "paraphrases": ["A\u2029B\x85C"]}
    text = json.dumps(row, ensure_ascii=False) + "\r\n" + json.dumps(GOOD, ensure_ascii=False) + "\n"
    assert len(text.splitlines()) > 2
    facts = parse_text(text, "sep.jsonl")
    assert [f.fact for f in facts] == [row["fact"], GOOD["fact"]] and facts[0].paraphrases == ("A\u2029B\x85C",)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"questions": ["Where was " + "x" * 420_000 + " born?"]}, "questions", "at most 2,000"),
        ({"paraphrases": ["Ada Val was born in Hollin."] * 101}, "paraphrases", "at most 100"),
        ({"answer": "Hollin" * 400, "candidates": ["Hollin" * 400, "Lirra"]}, "answer", "at most 2,000"),
    ],
)
def test_every_text_and_list_of_a_fact_is_bounded(tmp_path, change, field, words):
    with pytest.raises(FactFileError) as info:
        load_facts(write(tmp_path, [{**GOOD, **change}]))
    assert info.value.field == field and words in str(info.value)


def test_a_fact_file_is_bounded_before_it_is_parsed(tmp_path):
    path = tmp_path / "huge.jsonl"
    with open(path, "wb") as fh:
        fh.truncate(100 * 2**20)
    with pytest.raises(FactFileError, match="too large"):
        load_facts(path)
    with pytest.raises(FactFileError, match="10,001 facts; at most 10,000"):
        parse_text((json.dumps(GOOD) + "\n") * 10_001, "many.jsonl")
    (tmp_path / "bin.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(FactFileError, match="not UTF-8"):
        load_facts(tmp_path / "bin.jsonl")
