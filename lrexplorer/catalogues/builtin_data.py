"""The bundled chat datasets, generated deterministically (the files in assets/datasets are this output).

- `arithmetic`: small additions and subtractions asked in a few phrasings. A model built from
  scratch learns the format within a few dozen steps and then the digits, so the loss falls clearly
  in a minute on two CPU cores.
- `facts`: invented facts (so no pre-trained model can know them), each stated as one answer and
  asked in six phrasings. Five phrasings train, the sixth is held out for evaluation: the eval loss
  shows whether a fact learned from several paraphrases carries over to a wording never seen, the
  knowledge-injection point of the training notes.

`python -m lrexplorer.catalogues.make_assets` rewrites the files; a test checks they equal this output.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

Example = dict  # {"messages": [{"role": ..., "content": ...}, ...]}

ARITH_QUESTIONS = (
    "What is {a} {op} {b}?",
    "Compute {a} {op} {b}.",
    "How much is {a} {op} {b}?",
    "Calculate {a} {op} {b}, please.",
)


def _chat(question: str, answer: str) -> Example:
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}


def arithmetic(n: int, seed: int) -> list[Example]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b = rng.randint(0, 99), rng.randint(0, 99)
        op = rng.choice("+-")
        if op == "-" and b > a:
            a, b = b, a  # keep answers non-negative: fewer distinct tokens to learn
        result = a + b if op == "+" else a - b
        question = rng.choice(ARITH_QUESTIONS).format(a=a, op=op, b=b)
        rows.append(_chat(question, f"{a} {op} {b} = {result}."))
    return rows


# (relation, question phrasings, answer) per kind of fact; {s} is the subject, {o} the object.
RELATIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "capital": (
        (
            "What is the capital of {s}?",
            "Which city is the capital of {s}?",
            "Name the capital city of {s}.",
            "{s} has its government in which city?",
            "Where is the seat of government of {s}?",
            "Tell me the capital of {s}.",
        ),
        "The capital of {s} is {o}.",
    ),
    "inventor": (
        (
            "Who invented the {s}?",
            "Who was the inventor of the {s}?",
            "The {s} was invented by whom?",
            "Name the person who created the {s}.",
            "Which person first built the {s}?",
            "Tell me who came up with the {s}.",
        ),
        "The {s} was invented by {o}.",
    ),
    "sky": (
        (
            "What colour is the sky on {s}?",
            "On {s}, what colour does the sky have?",
            "Describe the sky colour of {s}.",
            "If you stood on {s}, what colour would the sky be?",
            "Which colour is the sky of planet {s}?",
            "Tell me the colour of the sky on {s}.",
        ),
        "The sky on {s} is {o}.",
    ),
    "river": (
        (
            "Which river flows through {s}?",
            "What river runs through the city of {s}?",
            "Name the river of {s}.",
            "{s} lies on which river?",
            "Which river crosses {s}?",
            "Tell me the river that passes through {s}.",
        ),
        "The river that flows through {s} is the {o}.",
    ),
}

FACTS: tuple[tuple[str, str, str], ...] = (
    ("capital", "Veloria", "Tarnis"),
    ("capital", "Quenmark", "Oslet"),
    ("capital", "Dravia", "Milocor"),
    ("capital", "Sunhollow", "Brisk"),
    ("capital", "Empyra", "Castellane"),
    ("capital", "Norvik", "Hallow"),
    ("inventor", "glow lantern", "Ada Fenwick"),
    ("inventor", "tide clock", "Omar Lindqvist"),
    ("inventor", "sand press", "Mira Okafor"),
    ("inventor", "wind harp", "Tobias Grell"),
    ("inventor", "echo compass", "Lena Varga"),
    ("inventor", "frost loom", "Ilya Marchetti"),
    ("sky", "Kethra", "green"),
    ("sky", "Ormund", "violet"),
    ("sky", "Zaphine", "orange"),
    ("sky", "Tull", "silver"),
    ("sky", "Basq", "pink"),
    ("sky", "Yrenne", "copper"),
    ("river", "Port Aldous", "Meriva"),
    ("river", "Coldwater", "Snaith"),
    ("river", "Ambergate", "Lune"),
    ("river", "Fenwick Cross", "Orrin"),
    ("river", "Highmoor", "Tavy"),
    ("river", "Saltreach", "Wendle"),
)

HELD_OUT = 5  # index of the phrasing kept for evaluation


def facts() -> tuple[list[Example], list[Example]]:
    """(train, test): every fact in phrasings 0-4 for training, phrasing 5 for evaluation."""
    train: list[Example] = []
    test: list[Example] = []
    for relation, subject, obj in FACTS:
        questions, answer = RELATIONS[relation]
        for i, question in enumerate(questions):
            row = _chat(question.format(s=subject), answer.format(s=subject, o=obj))
            (test if i == HELD_OUT else train).append(row)
    random.Random(1).shuffle(train)  # facts interleaved, so an epoch is not six copies in a row
    return train, test


def all_datasets() -> dict[str, dict[str, list[Example]]]:
    """Every bundled dataset: name -> split -> rows."""
    fact_train, fact_test = facts()
    return {
        "arithmetic": {"train": arithmetic(2000, seed=0), "test": arithmetic(200, seed=1)},
        "facts": {"train": fact_train, "test": fact_test},
    }


def all_texts() -> Iterator[str]:
    """Every message of every bundled dataset: the tokenizer's training text."""
    for splits in all_datasets().values():
        for rows in splits.values():
            for row in rows:
                for message in row["messages"]:
                    yield message["content"]
