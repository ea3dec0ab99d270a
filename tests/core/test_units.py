"""The one duration format and counts with their noun, as every page and command writes them."""

from __future__ import annotations

import math

import pytest

from lrexplorer.core.units import format_duration, plural


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (42.4, "42s"), (59.6, "1m00s"), (185, "3m05s"), (3725, "1h02m05s"), (-3, "0s"), (90_000, "25h00m00s")],
)
def test_durations(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("unknown", [None, math.nan, math.inf])
def test_an_unknown_duration_is_a_dash(unknown):
    assert format_duration(unknown) == "—"


def test_one_duration_format_in_the_package():
    """No second duration formatter: every module imports this one (the Runs table, the Train page's ETA and
    prediction, the Tune page, the knowledge lab and its command all wrote their own once)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "lrexplorer"
    defined = [p for p in root.rglob("*.py") if "def format_duration" in p.read_text(encoding="utf-8")]
    assert [p.relative_to(root).as_posix() for p in defined] == ["core/units.py"]


def test_plural():
    assert (plural(1, "seed"), plural(3, "seed"), plural(0.5, "epoch"), plural(1.0, "epoch")) == (
        "1 seed",
        "3 seeds",
        "0.5 epochs",
        "1 epoch",
    )
