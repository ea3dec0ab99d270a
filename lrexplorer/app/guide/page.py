"""The Guide page: the training notes as lessons, each tied to the tool that shows its point.

Lesson texts come from `lrexplorer.guide.content`, the interactive parts from the `guide_*` modules
here. One lesson is shown at a time (a table of contents on the left, previous / next at the bottom),
so a teacher can walk a class through them and share `?lesson=ID` links (the page's settings, with each
demonstration's, are its `GUIDE` state); torch loads only when a lesson with a torch demonstration is opened.
"""

from __future__ import annotations

import streamlit as st

from lrexplorer.app.guide import lessons as guide_lessons
from lrexplorer.app.guide import memory as guide_memory
from lrexplorer.app.guide import reference as guide_reference
from lrexplorer.app.guide.nav import lesson_button, prev_next, render_topics, scroll_to_section
from lrexplorer.app.guide.state import GUIDE
from lrexplorer.guide import LESSONS, Lesson, lesson_by_id
from lrexplorer.guide.search import search

EXTRAS = {**guide_lessons.EXTRAS, **guide_memory.EXTRAS, **guide_reference.EXTRAS}
IDS = [lesson.id for lesson in LESSONS]


def lesson(lesson_id: str) -> Lesson:
    found = lesson_by_id(lesson_id)
    assert found is not None, lesson_id  # the radio offers only known ids
    return found


def search_box() -> None:
    query = st.text_input(
        "Search the guide",
        **GUIDE.bind("search"),
        placeholder="e.g. warmup_ratio, clipping, RMSNorm",
        icon=":material/search:",
        help="Every lesson, schedule and training argument, by name (old names too) or by any word of its text.",
    )
    if not query.strip():
        return
    hits = search(query)
    if not hits:
        st.caption("Nothing found. Try a shorter word or an argument name.")
    for i, hit in enumerate(hits):
        with st.container(border=True, gap="small"):
            lesson_button(hit.lesson, hit.label, key=f"guide.hit.{i}", anchor=hit.anchor)
            st.caption(hit.snippet)


def introduction() -> None:
    with st.expander('About this guide, and what "the notes" are', icon=":material/menu_book:"):
        st.markdown(
            "The lessons grew out of a set of **training notes**: a practitioner's write-up on fine-tuning "
            "language models with Hugging Face's `Trainer` and TRL's `SFTTrainer` — when fine-tuning adds "
            "knowledge and when it does not, the six learning-rate schedules, gradient accumulation, the tricks "
            "that save memory, and the `TrainingArguments` that set all of it. When a lesson says *the notes*, "
            "it means that write-up.\n\n"
            "The notes were written against older library versions, so the guide checks them: where an argument "
            "has since been renamed or removed (`warmup_ratio`, `evaluation_strategy`, ...) the lesson gives the "
            "name that works today, and where the notes write a formula differently (counting epochs instead of "
            "optimizer updates, say) the lesson shows both. Every curve and number on these pages is computed by "
            "the real libraries, not copied from the notes."
        )


def render() -> None:
    st.title("Guide")
    st.caption("The concepts of fine-tuning, one lesson at a time, each with the tool that shows it.")
    _, problems = GUIDE.begin()
    for problem in problems:
        st.warning(problem, icon=":material/link_off:")
    introduction()

    toc, main = st.columns([1, 3.3], gap="large")
    with toc:
        search_box()
        st.radio("Lessons", IDS, format_func=lambda i: lesson(i).title, **GUIDE.bind("lesson"))

    current = lesson(GUIDE.get("lesson"))
    with main:
        st.header(current.title, anchor=current.id, divider="gray")
        st.markdown(f"*{current.summary}*")
        render_topics(current.id, EXTRAS)
        st.divider()
        prev_next(current.id)
        scroll_to_section()
