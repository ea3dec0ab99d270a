"""The text formats the base model is pre-trained on and the lab asks in: one definition for both.

A closed-book question is `Question: ...\\nAnswer:`; with retrieved documents it is preceded by
`Context: doc doc ...\\n`. The answer follows after one space and ends with the end token.
"""

from __future__ import annotations


def qa_prompt(question: str, context: list[str] | None = None) -> str:
    head = f"Context: {' '.join(context)}\n" if context else ""
    return f"{head}Question: {question}\nAnswer:"


def answer_text(answer: str) -> str:
    """The continuation scored or generated after a prompt."""
    return f" {answer}"
