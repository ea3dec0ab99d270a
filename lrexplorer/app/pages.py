"""The app's pages in one registry, and the links between them.

The app's main script (`main.py`, started by `lrexplorer app`) builds `st.navigation` from `PAGES`; every link
to another page goes through `page_link` with a registry key, never a script path. Pages are reached by links,
never by st.switch_page: switching pushes an extra history entry of the page it leaves without its query, and
Back would land there. A page run on its own (`streamlit run lrexplorer/app/page_scripts/guide.py`, or AppTest
on one page file) has no other page registered: its links then fall back to a plain link to the page's URL,
which reloads the app there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import streamlit as st
from streamlit.errors import StreamlitAPIException


@dataclass(frozen=True)
class Page:
    key: str  # the page's URL path (and the name links use)
    title: str
    icon: str
    script: str  # relative to the main script's folder (lrexplorer/app/)
    default: bool = False  # the page the app opens on (served at the root URL as well as its own path)

    def url(self, query: dict[str, str] | None = None) -> str:
        """The relative URL a browser opens for this page (used where st.page_link cannot resolve it)."""
        return f"{self.key}?{urlencode(query)}" if query else self.key

    def st_page(self) -> Any:
        """The st.Page of this entry, at its own path (links and the menu go there, the default page too).
        Raises StreamlitAPIException when the script is not found from the running main script (a page run
        on its own), which the links below turn into their fallback."""
        return st.Page(self.script, title=self.title, icon=self.icon, url_path=self.key)

    def root_page(self) -> Any:
        """The same page served at the app's root URL (for the default page), hidden from the menu: `/` and
        `/schedules` both show the Schedules page, and neither is "not found"."""
        return st.Page(
            self.script, title=self.title, icon=self.icon, url_path=ROOT_PATH, default=True, visibility="hidden"
        )


ROOT_PATH = "start"  # the root page's own name (Streamlit wants one, unique; it is served at `/`)
PAGES: dict[str, Page] = {
    p.key: p
    for p in (
        Page("schedules", "Schedules", ":material/show_chart:", "page_scripts/schedules.py", default=True),
        Page("memory", "Memory", ":material/memory:", "page_scripts/memory.py"),
        Page("train", "Train", ":material/model_training:", "page_scripts/train.py"),
        Page("tune", "Tune", ":material/tune:", "page_scripts/tune.py"),
        Page("knowledge", "Knowledge lab", ":material/lightbulb:", "page_scripts/knowledge.py"),
        Page("runs", "Runs", ":material/history:", "page_scripts/runs.py"),
        Page("guide", "Guide", ":material/school:", "page_scripts/guide.py"),
    )
}


def navigation() -> Any:
    """st.navigation over every registered page, in the registry's order, and the default page at the root."""
    default = next(page for page in PAGES.values() if page.default)
    return st.navigation([default.root_page(), *(page.st_page() for page in PAGES.values())])


def page_link(
    key: str,
    label: str,
    icon: str | None = None,
    query_params: dict[str, str] | None = None,
    container: Any = None,
) -> None:
    """st.page_link to the page `key` (with its query parameters), or a plain link to its URL when the
    page is not registered with st.navigation."""
    page = PAGES[key]
    where = container if container is not None else st
    try:
        where.page_link(page.st_page(), label=label, icon=icon, query_params=query_params)
    except StreamlitAPIException:
        where.markdown(f"{icon + ' ' if icon else ''}[{label}](/{page.url(query_params)})")
