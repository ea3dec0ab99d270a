"""Generate the synthetic text: the pre-training corpus of the base model and the lab's fact set.

Both come from `world` and a seed, so they are reproducible. Pre-training mixes four kinds of
document about people whose surnames are never the lab's:

- `statement`: one fact in one of its phrasings;
- `bio`: several facts about one person, in random phrasings and order;
- `qa`: a closed-book question and its answer, for most (not all) pre-training people, so the model
  learns that what it read in a statement answers a question later;
- `reading`: a context of statements about freshly invented people, a question and the answer copied
  from the context, so the model learns to answer from what it is given (what retrieval relies on).

`python -m lrexplorer.knowledge.corpus` rewrites the lab's fact set, `assets/knowledge/facts.jsonl`.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lrexplorer.knowledge.prompts import answer_text, qa_prompt
from lrexplorer.knowledge.world import (
    FIRST_SYLLABLES,
    RELATIONS,
    SECOND_SYLLABLES,
    SURNAME_HEADS,
    SURNAME_TAILS,
    Relation,
)

LAB_PEOPLE = 30
LAB_QUESTIONS = 3  # test phrasings per fact
CANDIDATES = 4  # the answer and three other values of the relation: chance is 1/4
PRETRAIN_PEOPLE = 200
QA_SHARE = 0.8  # pre-training people with closed-book questions; the rest measure transfer
MIX = (("statement", 0.15), ("bio", 0.1), ("qa", 0.25), ("reading", 0.5))
READING_FIRST = 0.6  # share of the corpus, at its start, that is reading exercises only


@dataclass(frozen=True)
class Person:
    name: str
    values: dict[str, str]  # relation name -> value


def first_names() -> list[str]:
    return [(a + b).capitalize() for a in FIRST_SYLLABLES for b in SECOND_SYLLABLES]


def surnames() -> tuple[list[str], list[str]]:
    """(pre-training surnames, lab surnames): a fixed, disjoint split of all syllable surnames."""
    every = [head + tail for head in SURNAME_HEADS for tail in SURNAME_TAILS]
    random.Random(0).shuffle(every)
    return every[LAB_PEOPLE:], every[:LAB_PEOPLE]


def random_person(rng: random.Random, name: str) -> Person:
    return Person(name, {r.name: rng.choice(r.values) for r in RELATIONS})


def pretrain_people(seed: int, n: int = PRETRAIN_PEOPLE) -> list[Person]:
    rng = random.Random(seed)
    firsts, (lasts, _) = first_names(), surnames()
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        name = f"{rng.choice(firsts)} {rng.choice(lasts)}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return [random_person(rng, name) for name in names]


def tidy(sentence: str) -> str:
    """Capital first letter, "an" before a vowel: templates put values anywhere in a sentence."""
    sentence = re.sub(r"\b([Aa]) (?=[aeiou])", r"\1n ", sentence)
    return sentence[0].upper() + sentence[1:]


def statement(rng: random.Random, person: Person, relation: Relation, template: int | None = None) -> str:
    index = rng.randrange(len(relation.statements)) if template is None else template
    return tidy(relation.statements[index].format(s=person.name, o=person.values[relation.name]))


def question(rng: random.Random, person: Person, relation: Relation) -> str:
    return rng.choice(relation.questions).format(s=person.name)


def qa_document(question_text: str, answer: str, context: list[str] | None = None) -> str:
    return qa_prompt(question_text, context) + answer_text(answer)


class PretrainCorpus:
    """The pre-training documents of one seed; `documents(n)` draws them (end token not included)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed + 1)
        self.people = pretrain_people(seed)
        cut = round(len(self.people) * QA_SHARE)
        self.asked, self.unasked = self.people[:cut], self.people[cut:]
        self.known_names = {p.name for p in self.people}
        self.firsts, (self.lasts, _) = first_names(), surnames()

    def documents(self, n: int) -> list[str]:
        """n documents in training order: reading exercises only at first, then the mixture `MIX`.

        Reading is learnt late when it is one kind among many: trained on the mixture alone, the model
        stayed at chance on reading exercises for 1,250 steps; started on reading only, it answered 61%
        of them after 200 steps (chance 25%).
        """
        first = round(n * READING_FIRST)
        kinds, weights = [k for k, _ in MIX], [w for _, w in MIX]
        makers = {"statement": self.statement, "bio": self.bio, "qa": self.qa, "reading": self.reading}
        return [self.reading() for _ in range(first)] + [
            makers[kind]() for kind in self.rng.choices(kinds, weights, k=n - first)
        ]

    def statement(self) -> str:
        return statement(self.rng, self.rng.choice(self.people), self.rng.choice(RELATIONS))

    def bio(self) -> str:
        person = self.rng.choice(self.people)
        relations = self.rng.sample(RELATIONS, self.rng.randint(2, len(RELATIONS)))
        return " ".join(statement(self.rng, person, r) for r in relations)

    def qa(self) -> str:
        person, relation = self.rng.choice(self.asked), self.rng.choice(RELATIONS)
        return qa_document(question(self.rng, person, relation), person.values[relation.name])

    def fresh_person(self) -> Person:
        while True:
            name = f"{self.rng.choice(self.firsts)} {self.rng.choice(self.lasts)}"
            if name not in self.known_names:
                return random_person(self.rng, name)

    def reading(self) -> str:
        context, question_text, answer, _ = self.reading_exercise()
        return qa_document(question_text, answer, context)

    def reading_exercise(self) -> tuple[list[str], str, str, Relation]:
        """A context like the retriever's: the asked fact among facts about the same and other people."""
        person = self.fresh_person()
        others = [self.fresh_person() for _ in range(self.rng.randint(0, 2))]
        target = self.rng.choice(RELATIONS)
        pool = [(person, r) for r in RELATIONS if r is not target] + [(o, r) for o in others for r in RELATIONS]
        chosen = [(person, target), *self.rng.sample(pool, self.rng.randint(0, 3))]
        self.rng.shuffle(chosen)
        context = [statement(self.rng, p, r) for p, r in chosen]
        return context, question(self.rng, person, target), person.values[target.name], target

    def closed_book_checks(self, people: list[Person], n: int) -> list[tuple[str, str, list[str]]]:
        """(prompt, answer, candidates) closed-book questions about `people`."""
        return [self._check(self.rng.choice(people), None) for _ in range(n)]

    def reading_checks(self, n: int) -> list[tuple[str, str, list[str]]]:
        """(prompt, answer, candidates) reading exercises about fresh people, drawn like pre-training's."""
        out = []
        for _ in range(n):
            context, question_text, answer, relation = self.reading_exercise()
            out.append((qa_prompt(question_text, context), answer, candidates(self.rng, relation, answer)))
        return out

    def _check(self, person: Person, context: list[str] | None) -> tuple[str, str, list[str]]:
        relation = self.rng.choice(RELATIONS)
        answer = person.values[relation.name]
        return qa_prompt(question(self.rng, person, relation), context), answer, candidates(self.rng, relation, answer)


def candidates(rng: random.Random, relation: Relation, answer: str) -> list[str]:
    others = rng.sample([v for v in relation.values if v != answer], CANDIDATES - 1)
    out = [answer, *others]
    rng.shuffle(out)
    return out


def lab_fact_rows(seed: int = 0) -> list[dict]:
    """The lab's fact set: one row per (person, relation), in the fact-file format `facts.load_facts` reads."""
    rng = random.Random(seed + 1000)
    _, lasts = surnames()
    firsts = first_names()
    people = [random_person(rng, f"{rng.choice(firsts)} {last}") for last in lasts[:LAB_PEOPLE]]
    rows = []
    for person in people:
        for relation in RELATIONS:
            order = list(range(1, len(relation.statements)))
            rng.shuffle(order)  # so that "1 paraphrase" is not always the same wording
            answer = person.values[relation.name]
            rows.append(
                {
                    "fact": statement(rng, person, relation, 0),
                    "paraphrases": [statement(rng, person, relation, i) for i in order],
                    "questions": [q.format(s=person.name) for q in rng.sample(relation.questions, LAB_QUESTIONS)],
                    "answer": answer,
                    "candidates": candidates(rng, relation, answer),
                    "entity": person.name,
                    "relation": relation.name,
                }
            )
    return rows


def iter_jsonl(rows: list[dict]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    from lrexplorer.knowledge.assets import FACTS_FILE

    parser = argparse.ArgumentParser(description="Write the knowledge lab's fact set.")
    parser.add_argument("--out", type=Path, default=FACTS_FILE)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(iter_jsonl(lab_fact_rows(args.seed))), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
