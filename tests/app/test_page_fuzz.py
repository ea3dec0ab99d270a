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


# Every query parameter a page reads, set to hostile values at once: the URL is the part of a page anyone can
# type, share or tamper with.
QUERY = {
    "schedules": ("schedule", "lr", "steps", "warmup", "learning_rate", "lr_scheduler_kwargs"),
    "memory": ("model", "per_device_train_batch_size", "max_length", "lora_r", "activation_checkpointing_kwargs"),
    "train": ("run",),
    "tune": ("sweep", "lrfind"),
    "knowledge": ("lab", "methods", "paraphrases", "seeds", "epochs", "budget"),
    "guide": ("lesson",),
}
QUERY_VALUES = ("x" * 5000, "../../../etc", "-1e308", "9" * 400, '{"a": ' * 3000 + "}" * 3000, "a\u2028b")


@pytest.mark.parametrize("name", sorted(QUERY))
def test_hostile_query_parameters_never_raise(name, tmp_path, monkeypatch):
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path / "runs"))
    for value in QUERY_VALUES:
        at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "page_scripts" / f"{name}.py"), default_timeout=120)
        for key in QUERY[name]:
            at.query_params[key] = value
        at.run()
        _no_exception(at, f"{name} with ?{'&'.join(QUERY[name])}={value[:20]!r}")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.db"))


def test_the_tune_page_says_why_a_sweep_cannot_be_shown(tmp_path, monkeypatch):
    """A damaged study.db, an SQLite file that holds no sweep, and a 5,000-character ?sweep=: one message each,
    and the file is left as it was."""
    import sqlite3

    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path / "runs"))
    sweeps = tmp_path / "runs" / "sweeps"
    (sweeps / "damaged").mkdir(parents=True)
    (sweeps / "damaged" / "study.db").write_bytes(b"SQLite format 3\x00" + b"\x07" * 500)
    (sweeps / "other").mkdir()
    with sqlite3.connect(sweeps / "other" / "study.db") as conn:
        conn.execute("CREATE TABLE notes (text)")
    other = (sweeps / "other" / "study.db").read_bytes()
    for ref, words in (("damaged", "study.db"), ("other", "not a sweep's"), ("s" * 5000, "not the name of a sweep")):
        at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "page_scripts" / "tune.py"), default_timeout=120)
        at.query_params["sweep"] = ref
        at.run()
        _no_exception(at, f"?sweep={ref[:20]}")
        assert any(words in e.value for e in at.error), [e.value for e in at.error]
    assert (sweeps / "damaged" / "study.db").read_bytes() == b"SQLite format 3\x00" + b"\x07" * 500
    assert (sweeps / "other" / "study.db").read_bytes() == other
