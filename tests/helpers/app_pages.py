"""A page under AppTest."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def run(at: AppTest) -> AppTest:
    """Run the page's script once more; it must show no exception."""
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at
