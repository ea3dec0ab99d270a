"""Hostile values in every number and text field of the form pages, through Streamlit's AppTest: the
page never raises, and an absurd number is answered with an error naming a field. The widgets are the
ones AppTest finds on the page, so the test follows the forms when they are regenerated. All fields of
a page get the same value in one rerun, so each value costs one rerun of the page."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("schedules", "memory", "train")
# 10**9: above every bound yet a value Streamlit passes through (it drops what exceeds its own range).
NUMBERS = (10**9, -1, 0, math.nan)
TEXTS = ("", "\x00{", "9" * 400, '{"min_lr": 1e30}')


def _page(name: str) -> AppTest:
    return AppTest.from_file(
        str(ROOT / "lrexplorer" / "app" / "page_scripts" / f"{name}.py"), default_timeout=120
    ).run()


def _shown(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in [*at.error, *at.warning, *at.exception])


def _no_exception(at: AppTest, what: str) -> None:
    assert not at.exception, f"{what}: " + "\n".join(str(e.value) for e in at.exception)


@pytest.mark.parametrize("name", PAGES)
def test_hostile_numbers_never_raise_and_absurd_ones_name_a_field(name):
    at = _page(name)
    _no_exception(at, "default page")
    fields = [w.key for w in at.number_input]
    assert fields, f"no number fields found on the {name} page"
    for value in NUMBERS:
        at = _page(name)
        for key in fields:
            widget = at.number_input(key=key)
            if widget.disabled:  # a browser cannot type into it either
                continue
            # A browser cannot send nan; Streamlit's own int deserializer (int(nan)) would fail before the page runs
            # (an integer input says so in its proto, also while it is empty).
            if not (isinstance(value, float) and math.isnan(value) and widget.proto.data_type == widget.proto.INT):
                widget.set_value(value)
        at.run()
        _no_exception(at, f"{name} with every number at {value!r}")
        if value == 10**9:
            shown = _shown(at)
            assert any(w.label.split()[0] in shown for w in at.number_input), shown[:2000]


@pytest.mark.parametrize("name", PAGES)
def test_hostile_text_never_raises(name):
    at = _page(name)
    fields = [w.key for w in [*at.text_input, *at.text_area]]
    for value in TEXTS:
        at = _page(name)
        for key in fields:
            widget = at.text_input(key=key) if any(w.key == key for w in at.text_input) else at.text_area(key=key)
            if widget.disabled:  # a browser cannot type into it either
                continue
            widget.set_value(value)
        at.run()
        _no_exception(at, f"{name} with every text field at {value[:20]!r}")
