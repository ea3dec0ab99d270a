"""One state model for every page: each page's settings live in its own session-state namespace and in
the address, so a reload, Back/Forward, a bookmark or a shared link shows the same view, and moving
between pages never changes another page's values.

A page declares its settings once, as a `PageState`: a namespace, their defaults, and how they are read
from and written to the URL's query (non-default values only). Its widgets are views of the values:
`bind(name)` gives a widget the key `<namespace>.<name>` and a callback that copies each edit into the
namespace, and every run puts the values back into the widget keys before the widgets are drawn.
Streamlit drops a widget's state on every run that does not draw it (another page, a hidden choice), so
the values, not the widget keys, are what lasts.

`begin()`, first thing in a page's run, keeps the address and the values in step:
- an address the page did not write (a link, Back/Forward, a reload, a typed URL) is applied, on every
  arrival: the settings it names replace the values, the ones it leaves out go back to their defaults;
- arriving from another page with no setting in the address (the sidebar, a link naming none) keeps the
  values the page had, and writes them into the address in place (no new history entry), so Back still
  leaves the page;
- an edit is written to the address at the next run (one history entry per change, as Streamlit's own
  query parameters do), so Back steps back through the changes.
Query parameters a page reads for what it shows rather than as settings (`views`: which run, which lab)
are left to the page.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitWidgetAlreadyInstantiatedError

Decoded = tuple[dict[str, Any], list[str], list[str]]  # (values read, notes, problems)
CURRENT_PAGE = "page_state.page"  # the page the previous run of this session drew


def history_navigation() -> bool:
    """Whether this run was started by the browser's Back or Forward (Streamlit's run context knows; a
    version without the flag reads as False, which keeps the page's values on such an arrival)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(getattr(ctx, "is_history_navigation", False))


@dataclass(frozen=True)
class PageState:
    page: str  # the page's key in the registry (its URL path)
    namespace: str  # prefix of its session-state keys
    defaults: Callable[[], dict[str, Any]]  # name -> the widget value a fresh page starts from
    to_query: Callable[[Mapping[str, Any]], dict[str, str]]  # values -> the query naming the non-defaults
    from_query: Callable[[Mapping[str, str]], Decoded]  # query -> the values it names, notes, problems
    views: tuple[str, ...] = ()  # query keys that are not settings (left to the page)

    # -- where things are kept ---------------------------------------------------------------------------
    def key(self, name: str) -> str:
        """The widget key of setting `name`."""
        return f"{self.namespace}.{name}"

    @property
    def values_key(self) -> str:
        """The session-state key holding the page's values (name -> widget value)."""
        return f"{self.namespace}.__values__"

    @property
    def _address_key(self) -> str:  # the settings query the address holds, as the page wrote or read it
        return f"{self.namespace}.__address__"

    @property
    def _synced_key(self) -> str:  # the values the address describes
        return f"{self.namespace}.__synced__"

    @property
    def _said_key(self) -> str:  # the notes and problems of the last address applied
        return f"{self.namespace}.__said__"

    # -- reading and changing values ------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The page's values (its defaults before the page was ever shown)."""
        stored = st.session_state.get(self.values_key)
        return dict(stored) if stored is not None else self.defaults()

    def get(self, name: str) -> Any:
        return self.values()[name]

    def set(self, **changes: Any) -> None:
        """Change values from code (a button, another page): before the widgets are drawn, or before a
        rerun or a page switch. The address follows at the page's next run."""
        values = self.values()
        values.update(changes)
        st.session_state[self.values_key] = values
        for name, value in changes.items():
            self._show(self.key(name), value)

    def load(self, values: Mapping[str, Any]) -> None:
        """Replace every value (what `values` leaves out goes back to its default)."""
        merged = {**self.defaults(), **values}
        st.session_state[self.values_key] = merged
        for name, value in merged.items():
            self._show(self.key(name), value)

    def query_with(self, **changes: Any) -> dict[str, str]:
        """The query of the page's values with `changes`: a link to this page from another, showing them.
        A link (rather than changing the values and switching page) is one history entry: Back returns to
        the page the link was on, as it was."""
        return self.to_query({**self.values(), **changes})

    def bind(self, name: str, prefix: str | None = None) -> dict[str, Any]:
        """Keyword arguments that make a widget the view of setting `name`: its key (under `prefix`
        instead of the namespace when another page draws it) and the callback keeping its edits."""
        key = f"{prefix}.{name}" if prefix else self.key(name)
        if prefix:
            self._show(key, self.get(name))
        return {"key": key, "on_change": self._keep, "args": (key, name)}

    def _keep(self, key: str, name: str) -> None:
        values = self.values()
        values[name] = st.session_state[key]
        st.session_state[self.values_key] = values

    @staticmethod
    def _show(key: str, value: Any) -> None:
        # Only when it differs: a widget given its own value again would be redrawn for nothing.
        if key in st.session_state and st.session_state[key] == value:
            return
        # A change made after its widget was drawn (a button, before a rerun): the next run shows it.
        with contextlib.suppress(StreamlitWidgetAlreadyInstantiatedError):
            st.session_state[key] = value

    # -- the address ----------------------------------------------------------------------------------
    def settings_query(self) -> dict[str, str]:
        """The settings part of the current address (its views left out)."""
        return {k: v for k, v in st.query_params.to_dict().items() if k not in self.views}

    def begin(self) -> tuple[list[str], list[str]]:
        """Bring the values and the address into step (see the module docstring) and the widget keys to
        the values; returns the notes and problems of the address last applied (old names, bad values)."""
        state = st.session_state
        arrived = state.get(CURRENT_PAGE) != self.page
        state[CURRENT_PAGE] = self.page
        query = self.settings_query()
        known = self.values_key in state
        if not known:
            self._apply(query)  # a fresh session (a reload, a shared link): the address is the view
            if not query:  # a page whose address always names a setting (the Guide's lesson) says it at once
                self._write_in_place()
        elif not query and not history_navigation() and (arrived or state.get(self._address_key)):
            self._write_in_place()  # no setting named (the sidebar, a link naming a run only): values stay
        elif query != state.get(self._address_key):
            self._apply(query)  # a link, Back/Forward: the address is the view
        elif self.values() != state.get(self._synced_key):
            self._write()  # an edit since the last run
        values = self.values()
        state[self.values_key] = values
        for name, value in values.items():
            self._show(self.key(name), value)
        notes, problems = state.get(self._said_key, ([], []))
        return list(notes), list(problems)

    def _apply(self, query: Mapping[str, str]) -> None:
        read, notes, problems = self.from_query(query)
        self.load(read)
        st.session_state[self._address_key] = dict(query)
        st.session_state[self._synced_key] = self.values()
        st.session_state[self._said_key] = (notes, problems)

    def _write(self) -> None:
        values = self.values()
        wanted = self.to_query(values)
        views = {k: v for k, v in st.query_params.to_dict().items() if k in self.views}
        st.query_params.from_dict({**views, **wanted})  # one message: one history entry
        st.session_state[self._address_key] = wanted
        st.session_state[self._synced_key] = values
        st.session_state[self._said_key] = ([], [])

    def _write_in_place(self) -> None:
        values = self.values()
        wanted = self.to_query(values)
        st.session_state[self._address_key] = wanted
        st.session_state[self._synced_key] = values
        if wanted:
            views = {k: v for k, v in st.query_params.to_dict().items() if k in self.views}
            replace_address(self.page, {**views, **wanted})


def replace_address(page: str, query: Mapping[str, str]) -> None:
    """Put `query` into the address bar without a new history entry, once the browser shows `page`'s path.

    Arriving from another page, Streamlit changes the path after the page's first messages; a query written
    through `st.query_params` then would add a second history entry, and Back would stay on the page. The
    browser sends the address's query with every later run, so the page reads it back as its own."""
    from urllib.parse import urlencode

    from lrexplorer.app.pages import PAGES

    entry = PAGES[page]
    # The default page is served at the app's root too.
    path = f"(\\/{entry.key}|)\\/?$" if entry.default else f"\\/{entry.key}\\/?$"
    st.html(
        f"""<script>
        (function () {{
          let tries = 0;
          const put = () => {{
            if (!new RegExp({json.dumps(path)}).test(location.pathname)) {{
              if (tries++ < 50) {{ setTimeout(put, 100); }}
              return;
            }}
            const url = new URL(location.href);
            url.search = {json.dumps(urlencode(dict(query)))};
            history.replaceState(history.state, "", url);
          }};
          put();
        }})();
        </script>""",
        unsafe_allow_javascript=True,
        width="content",
    )
