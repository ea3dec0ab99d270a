"""Who may act in a class session (`lrexplorer app --share`): the teacher, whose link carries the token, or the
room, which views.

Without `--share` the app is local and everyone who reaches it is its user: every action is allowed. In a
class session a browser session becomes the teacher's when its URL carries the server's token (compared in
constant time); the token is then taken out of the URL so that a screenshot or a shared link does not leak
it. A session without it is view-only: the pages hide their actions, and every action checks `can_act()`
again on the server before it does anything, so a forged widget event changes nothing either. View-only
sessions also never make the server read its own files: a model or dataset that looks like a path answers as
a missing one does.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any

import streamlit as st

from lrexplorer.core.fields import FieldError

SHARE_ENV, TOKEN_ENV = "LRX_SHARE", "LRX_TEACHER_TOKEN"  # set by `lrexplorer app --share` (cli/app.py)
ROLE_KEY = "lrx.role"
VIEW_ONLY = (
    "View only: this is a class session. Everything can be explored and compared, but starting, stopping, "
    "deleting, exporting or chatting on this machine needs the teacher's link."
)


def class_session() -> bool:
    return os.environ.get(SHARE_ENV) == "1"


def _token_matches(given: str) -> bool:
    expected = os.environ.get(TOKEN_ENV, "")
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def settle_role() -> str:
    """The session's role, read once from the token in the URL (which is then removed); "teacher" or "viewer".
    Called by the main script before any page runs."""
    if not class_session():
        return "teacher"
    given = st.query_params.get("token")
    if given is not None:
        del st.query_params["token"]  # out of the address bar (and of every link copied from it)
        if _token_matches(given):
            st.session_state[ROLE_KEY] = "teacher"
    return str(st.session_state.setdefault(ROLE_KEY, "viewer"))


def can_act() -> bool:
    """Whether this session may change anything on the server. Checked where each action happens."""
    return not class_session() or st.session_state.get(ROLE_KEY) == "teacher"


def refuse_if_viewer(action: str) -> bool:
    """Show why `action` is refused and return True for a view-only session; False when it may go ahead."""
    if can_act():
        return False
    st.warning(f"{action}: not in a view-only session. {VIEW_ONLY}", icon=":material/visibility:")
    return True


def looks_like_path(ref: str) -> bool:
    """A model or dataset reference that names a file or folder of the server rather than a built-in, a preset
    or a Hub id (`owner/name`): absolute, home-relative, dotted, or with more than one slash."""
    text = str(ref).strip()
    if not text or text.startswith("builtin:"):
        return False
    if text.startswith(("/", "~", ".", "\\")) or "\\" in text or ":" in text:
        return True
    parts = PurePath(text).parts
    return (
        len(parts) > 2 or any(p in ("..", ".") for p in parts) or text.endswith((".json", ".jsonl", ".csv", ".parquet"))
    )


UNREADABLE = "not a built-in or a bundled preset: a view-only session reads no file of this machine"


def unreadable_references(values: Mapping[str, Any]) -> list[FieldError]:
    """For a view-only session, the model and dataset of a run form that are neither built-ins nor presets,
    refused with one message whether or not such a file exists (so a link cannot probe the server's files).
    Empty for a session that may act."""
    if can_act():
        return []
    from lrexplorer.catalogues.presets import find_preset

    out = []
    for name in ("model", "dataset"):
        ref = str(values.get(name) or "").strip()
        if ref and not ref.startswith("builtin:") and not (name == "model" and find_preset(ref) is not None):
            out.append(FieldError(name, f"{ref[:200]!r}: {UNREADABLE}"))
    return out


def hub_for_viewers(hub_id: str, fetch: Callable[[str], Any]) -> Any:
    """`fetch(hub_id)` for a session that may act; for a view-only one, only from the Hub: a name that is also a
    folder here answers as a model the Hub does not have, with the same words."""
    unavailable = FieldError("model", f"{hub_id[:200]!r}: not available from the Hugging Face Hub here")
    if can_act():
        return fetch(hub_id)
    if looks_like_path(hub_id) or os.path.exists(os.path.expanduser(hub_id)):
        raise unavailable
    try:
        return fetch(hub_id)
    except FieldError:
        raise unavailable from None
