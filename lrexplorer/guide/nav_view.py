"""Streamlit helpers of the Guide: links to the other pages and moving between lessons.

One of the Guide's `*_view.py` modules, the only ones in `lrexplorer.guide` that import streamlit.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.errors import StreamlitAPIException

from .content import LESSONS
from .links import APP_ROOT, Link

LESSON_KEY = "guide.lesson"


def listed_in_app(page: str) -> bool:
    """Whether app.py registers this page script (st.navigation lists pages explicitly)."""
    app = APP_ROOT / "app.py"
    return app.is_file() and (
        f'"{page}"' in app.read_text(encoding="utf-8") or f"'{page}'" in app.read_text(encoding="utf-8")
    )


def page_link(link: Link, icon: str = ":material/arrow_forward:") -> bool:
    """A link that opens `link.page` with its query parameters; False (and a note) when there is no such page.

    Inside the app, st.page_link resolves the page and keeps the session. When the Guide runs on
    its own (`streamlit run app_pages/guide.py`, or a test of this page alone) no other page is
    registered, so a plain relative URL stands in for it.
    """
    if not link.page_exists() or not listed_in_app(link.page):
        st.caption(
            f":material/construction: The {link.url_path.capitalize()} page is not in the app yet; this link "
            "will open it preset for this lesson once it is."
        )
        return False
    try:
        st.page_link(link.page, label=link.label, icon=icon, query_params=link.query)
    except StreamlitAPIException:
        st.markdown(f"{icon} [{link.label}](/{link.url})")
    return True


def go_to(lesson_id: str) -> None:
    """Button callback: switch lesson (before the widgets of the next run are created)."""
    st.session_state[LESSON_KEY] = lesson_id


def lesson_button(lesson_id: str, label: str, key: str, help: str | None = None) -> None:
    st.button(label, key=key, on_click=go_to, args=(lesson_id,), type="tertiary", help=help)


def prev_next(current: str) -> None:
    """Previous / next lesson buttons, for walking a class through the lessons in order."""
    ids = [lesson.id for lesson in LESSONS]
    i = ids.index(current)
    left, _, right = st.columns([2, 1, 2])
    if i > 0:
        left.button(f"← {LESSONS[i - 1].title}", key="guide.prev", on_click=go_to, args=(ids[i - 1],))
    if i + 1 < len(ids):
        right.button(f"{LESSONS[i + 1].title} →", key="guide.next", on_click=go_to, args=(ids[i + 1],), type="primary")


def render_topics(lesson_id: str, extras: dict[tuple[str, str], Callable[[], None]]) -> None:
    """Each topic's heading, text and formula, then the interactive part registered for it."""
    lesson = next(item for item in LESSONS if item.id == lesson_id)
    for topic in lesson.topics:
        st.subheader(topic.heading, anchor=f"{lesson.id}-{topic.id}")
        st.markdown(topic.text.strip())
        if topic.latex:
            st.latex(topic.latex)
        extra = extras.get((lesson.id, topic.id))
        if extra is not None:
            extra()
