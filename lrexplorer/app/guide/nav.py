"""The Guide's navigation: links to the other pages and moving between lessons."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from lrexplorer.app import pages
from lrexplorer.app.guide.state import GUIDE
from lrexplorer.guide.content import LESSONS
from lrexplorer.guide.links import Link
from lrexplorer.guide.search import topic_anchor


def page_link(link: Link, icon: str = ":material/arrow_forward:") -> None:
    """A link that opens `link.page` preset with the link's query parameters."""
    pages.page_link(link.page, label=link.label, icon=icon, query_params=link.query)


SCROLL_KEY = "guide.scroll_to"


def go_to(lesson_id: str, anchor: str = "") -> None:
    """Button callback: switch lesson (before the widgets of the next run are created), and remember the
    section to scroll to once it is drawn."""
    GUIDE.set(lesson=lesson_id)
    st.session_state[SCROLL_KEY] = anchor


def lesson_button(lesson_id: str, label: str, key: str, help: str | None = None, anchor: str = "") -> None:
    st.button(label, key=key, on_click=go_to, args=(lesson_id, anchor), type="tertiary", help=help)


def scroll_to_section() -> None:
    """Bring the section a search hit opened into view (once): its heading carries the anchor as its id.
    The script retries for a moment, since the heading may reach the browser after the script."""
    anchor = st.session_state.pop(SCROLL_KEY, "")
    if not anchor or not anchor.replace("-", "").replace("_", "").isalnum():
        return
    st.html(
        f"""<script>
        (function () {{
          let tries = 0;
          const jump = () => {{
            const el = document.getElementById({anchor!r});
            if (el) {{ el.scrollIntoView({{behavior: "smooth", block: "start"}}); }}
            else if (tries++ < 40) {{ setTimeout(jump, 100); }}
          }};
          jump();
        }})();
        </script>""",
        unsafe_allow_javascript=True,
        width="content",
    )


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
        st.subheader(topic.heading, anchor=topic_anchor(lesson.id, topic.id))
        st.markdown(topic.text.strip())
        if topic.latex:
            st.latex(topic.latex)
        extra = extras.get((lesson.id, topic.id))
        if extra is not None:
            extra()
