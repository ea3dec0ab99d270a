"""The Guide's search box: every lesson, topic, notes schedule and catalogue argument, by keyword.

Small enough (a few hundred entries) for a plain scan on each keystroke. Every word of the query must
appear somewhere in an entry (names, headings, keywords or text); matches in names and headings rank
above matches in keywords, which rank above matches in running text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from lrexplorer.catalogues import params
from lrexplorer.guide.arguments import lesson_for
from lrexplorer.guide.content import LESSONS
from lrexplorer.schedules import CATALOGUE as SCHEDULES
from lrexplorer.schedules import NOTES_SCHEDULES

NAME_WEIGHT, KEYWORD_WEIGHT, TEXT_WEIGHT = 10, 4, 1


@dataclass(frozen=True)
class Entry:
    lesson: str  # lesson id the result opens
    label: str  # what the result shows
    names: str  # lower-case headings and identifiers
    keywords: str  # lower-case keywords
    text: str  # the running text, for matching and for the snippet
    anchor: str = ""  # the section of the lesson it opens at (a topic's heading anchor), "" for the top


@dataclass(frozen=True)
class Hit:
    lesson: str
    label: str
    snippet: str
    score: int
    anchor: str = ""


def _norm(text: str) -> str:
    # `warmup_ratio`, "warmup ratio" and "warmup-ratio" should find each other.
    return re.sub(r"[_\-]+", " ", text.lower())


def _entry(
    lesson: str, label: str, names: list[str], keywords: list[str] | tuple[str, ...], text: str, anchor: str = ""
) -> Entry:
    return Entry(lesson, label, _norm(" | ".join(names)), _norm(" | ".join(keywords)), " ".join(text.split()), anchor)


def topic_anchor(lesson_id: str, topic_id: str) -> str:
    """The HTML anchor of a topic's heading on the Guide page."""
    return f"{lesson_id}-{topic_id}"


@lru_cache(maxsize=1)
def entries() -> tuple[Entry, ...]:
    out: list[Entry] = []
    titles = {lesson.id: lesson.title for lesson in LESSONS}
    for lesson in LESSONS:
        out.append(_entry(lesson.id, lesson.title, [lesson.title, lesson.id], lesson.keywords, lesson.summary))
        for topic in lesson.topics:
            label = f"{lesson.title} › {topic.heading}"
            anchor = topic_anchor(lesson.id, topic.id)
            out.append(_entry(lesson.id, label, [topic.heading], topic.keywords, topic.text, anchor))
    for name in NOTES_SCHEDULES:
        s = SCHEDULES[name]
        out.append(
            _entry(
                "schedulers",
                f"{titles['schedulers']} › {s.label}",
                [s.name, s.title, s.notes_title or ""],
                ["schedule", "scheduler"],
                s.explanation,
            )
        )
    for p in params.CATALOGUE_LIST:
        lesson_id = lesson_for(p)
        old = params.renamed_from(p.name)
        label = f"Argument `{p.name}`" + (f" (formerly {', '.join(old)})" if old else "") + f" · {titles[lesson_id]}"
        out.append(
            _entry(lesson_id, label, [p.name, *old], [params.CONCEPTS.get(p.concept or "", ""), p.group], p.help)
        )
    for r in params.RENAMED:
        if r.new is None:  # removed arguments: the reference lesson explains them
            out.append(
                _entry("arguments", f"Argument `{r.old}` (removed) · {titles['arguments']}", [r.old], [], r.note)
            )
    return tuple(out)


def _snippet(text: str, words: list[str], width: int = 240) -> str:
    low = _norm(text)
    positions = [low.find(w) for w in words if low.find(w) >= 0]
    if not positions:
        return text[:width] + ("…" if len(text) > width else "")
    start = max(0, min(positions) - width // 3)
    end = min(len(text), start + width)
    return ("…" if start else "") + text[start:end].strip() + ("…" if end < len(text) else "")


def search(query: str, limit: int = 8) -> list[Hit]:
    """Entries matching every word of `query`, best first (an empty query finds nothing)."""
    words = [w for w in _norm(query).split() if w]
    if not words:
        return []
    hits = []
    for e in entries():
        score = 0
        for w in words:
            if w in e.names:
                score += NAME_WEIGHT
            elif w in e.keywords:
                score += KEYWORD_WEIGHT
            elif w in _norm(e.text):
                score += TEXT_WEIGHT
            else:
                break
        else:
            hits.append(Hit(e.lesson, e.label, _snippet(e.text, words), score, e.anchor))
    hits.sort(key=lambda h: -h.score)  # stable: equal scores keep the lessons' order
    seen: set[str] = set()
    unique = []
    for h in hits:
        if h.label not in seen:
            seen.add(h.label)
            unique.append(h)
    return unique[:limit]
