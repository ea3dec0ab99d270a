"""The shape of a Guide lesson: headed topics of Markdown, plus what the search box matches."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    """One headed part of a lesson. `id` is unique inside the lesson (views and search use it)."""

    id: str
    heading: str
    text: str
    keywords: tuple[str, ...] = ()
    latex: str = ""  # a formula shown right after the text (st.latex)


@dataclass(frozen=True)
class Lesson:
    id: str  # also the `?lesson=` query parameter of the Guide page
    title: str
    icon: str  # a Material Symbols name, as Streamlit writes it
    summary: str
    topics: tuple[Topic, ...]
    concepts: tuple[str, ...] = ()  # ids of lrexplorer.catalogues.params.CONCEPTS this lesson teaches
    keywords: tuple[str, ...] = ()

    def topic(self, topic_id: str) -> Topic:
        return next(t for t in self.topics if t.id == topic_id)
