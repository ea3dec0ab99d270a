"""The Guide page: the training notes as lessons, each tied to the tool that shows its point.

Lesson texts come from `lrexplorer.guide.content`, the interactive parts from the `guide_*` modules
here. One lesson is shown at a time (a table of contents on the left, previous / next at the bottom),
so a teacher can walk a class through them and share `?lesson=ID` links; torch loads only when a
lesson with a torch demonstration is opened.
"""

from __future__ import annotations

import streamlit as st

from lrexplorer.app.guide import lessons as guide_lessons
from lrexplorer.app.guide import memory as guide_memory
from lrexplorer.app.guide import reference as guide_reference
from lrexplorer.app.guide.nav import (
    LESSON_KEY,
    lesson_button,
    lesson_in_address,
    prev_next,
    render_topics,
    scroll_to_section,
)
from lrexplorer.guide import LESSONS, Lesson, lesson_by_id
from lrexplorer.guide.search import search

EXTRAS = {**guide_lessons.EXTRAS, **guide_memory.EXTRAS, **guide_reference.EXTRAS}
IDS = [lesson.id for lesson in LESSONS]


def lesson(lesson_id: str) -> Lesson:
    found = lesson_by_id(lesson_id)
    assert found is not None, lesson_id  # the radio offers only known ids
    return found


def apply_url_lesson() -> None:
    """Open the lesson named by ?lesson= once per distinct link, so clicking around afterwards sticks."""
    wanted = st.query_params.get("lesson")
    if wanted != st.session_state.get("guide.query_lesson"):
        st.session_state["guide.query_lesson"] = wanted
        if lesson_by_id(wanted) is not None:
            st.session_state[LESSON_KEY] = wanted
    # Streamlit drops a widget's state while another page is shown; `guide.current` (not a widget)
    # brings the class back to the lesson it left.
    st.session_state.setdefault(LESSON_KEY, st.session_state.get("guide.current", IDS[0]))


def search_box() -> None:
    query = st.text_input(
        "Search the guide",
        key="guide.search",
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
    introduction()
    apply_url_lesson()

    toc, main = st.columns([1, 3.3], gap="large")
    with toc:
        search_box()
        st.radio("Lessons", IDS, key=LESSON_KEY, format_func=lambda i: lesson(i).title)

    current = lesson(st.session_state[LESSON_KEY])
    st.session_state["guide.query_lesson"] = current.id
    st.session_state["guide.current"] = current.id
    with main:
        st.header(current.title, anchor=current.id, divider="gray")
        st.markdown(f"*{current.summary}*")
        render_topics(current.id, EXTRAS)
        st.divider()
        prev_next(current.id)
        scroll_to_section()
    # Written last: the browser applies a page change to the address after the page's first messages, and
    # a query written before that was paired with the previous page's path.
    lesson_in_address(current.id)
