"""The Guide's Memory links carry their preset into the Memory page, and the estimate follows it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

from lrexplorer.app.pages import PAGES
from lrexplorer.guide.links import MEMORY_PRESETS, memory_link

APP = str(Path(__file__).resolve().parents[2] / "lrexplorer" / "app" / "main.py")
INTS = ("per_device_train_batch_size", "gradient_accumulation_steps", "max_length")


@pytest.mark.parametrize("topic", list(MEMORY_PRESETS))
def test_memory_link_presets_the_memory_page(topic):
    link = memory_link(topic)
    assert PAGES[link.page].script == "page_scripts/memory.py"
    at = AppTest.from_file(APP, default_timeout=60).run()
    for key, value in link.query.items():
        at.query_params[key] = value
    at.switch_page(PAGES[link.page].script).run()
    assert not at.exception
    state = at.session_state
    query = link.query
    assert state["mem.preset"] == query["model"]
    for key in INTS:
        if key in query:
            assert state[f"mem.{key}"] == int(query[key])
    if "activation_checkpointing" in query:
        assert state["mem.activation_checkpointing"] is True
    if "attn_implementation" in query:
        assert state["mem.attn_implementation"] == query["attn_implementation"]
    if query.get("bf16") == "true":
        assert state["mem.bf16"] is True
    # No "link parameter ... not understood" warning: every preset key is one the page reads.
    assert not [w for w in at.warning if "not understood" in w.value]


def test_guide_renders_the_memory_links_in_the_app():
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.query_params["lesson"] = "accumulation"
    at.switch_page("page_scripts/guide.py").run()
    assert not at.exception
    links = [parse_qs(e.proto.query_string) for e in at.get("page_link") if e.proto.page == "memory"]
    assert links and links[0]["gradient_accumulation_steps"] == [
        MEMORY_PRESETS["accumulation"]["gradient_accumulation_steps"]
    ]
