"""The Guide page through Streamlit's AppTest: every lesson renders, every link presets its target page,
and the demonstrations show what the real libraries compute."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lrexplorer.guide import LESSONS
from lrexplorer.runs.steps import plan_steps
from lrexplorer.schedules import NOTES_SCHEDULES, compute_curve

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "lrexplorer" / "app" / "page_scripts" / "guide.py")
APP = str(ROOT / "lrexplorer" / "app" / "main.py")


def guide(lesson: str | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    if lesson:
        at.query_params["lesson"] = lesson
    return at.run()


def in_app(lesson: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.query_params["lesson"] = lesson
    at.switch_page("page_scripts/guide.py")
    return at.run()


def array(value) -> np.ndarray:
    if isinstance(value, dict):  # plotly 6 writes numpy arrays as base64 typed arrays
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value)


def chart(at: AppTest, key_part: str) -> dict:
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        if key_part in element.proto.id:
            return spec
    raise AssertionError(f"no chart with {key_part!r}")


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.mark.parametrize("lesson", [lesson.id for lesson in LESSONS])
def test_every_lesson_renders_alone_and_in_the_app(lesson):
    expected = next(item for item in LESSONS if item.id == lesson)
    for at in (guide(lesson), in_app(lesson)):
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        assert at.header[0].value == expected.title
        assert [s.value for s in at.subheader][: len(expected.topics)] == [t.heading for t in expected.topics]
        assert at.query_params["lesson"] == [lesson] or at.query_params["lesson"] == lesson


def test_page_opens_on_the_first_lesson_and_moves_with_next_and_previous():
    at = guide()
    assert at.header[0].value == LESSONS[0].title
    at.button(key="guide.next").click().run()
    assert at.header[0].value == LESSONS[1].title and at.radio(key="guide.lesson").value == LESSONS[1].id
    at.button(key="guide.prev").click().run()
    assert at.header[0].value == LESSONS[0].title


def test_search_box_finds_a_concept_and_opens_its_lesson():
    at = guide()
    at.text_input(key="guide.search").set_value("warmup_ratio").run()
    hits = [b for b in at.button if b.key and b.key.startswith("guide.hit.")]
    assert hits and "warmup_steps" in hits[0].label
    hits[0].click().run()
    assert at.header[0].value == "Learning-rate schedulers" and not at.exception


def schedule_links(at: AppTest) -> dict[str, dict[str, list[str]]]:
    out = {}
    for element in at.get("page_link"):
        query = parse_qs(element.proto.query_string)
        # The Schedules page is the app's default page, whose URL path is empty.
        if element.proto.page in ("", "schedules") and "schedule" in query:
            out[query["schedule"][0]] = query
    return out


def test_each_schedule_link_opens_the_schedules_page_preset_to_the_plotted_curve():
    at = in_app("schedulers")
    at.number_input(key="guide.sched.lr").set_value(2e-4).run()
    at.number_input(key="guide.sched.steps").set_value(600).run()
    at.slider(key="guide.sched.warmup").set_value(60).run()
    links = schedule_links(at)
    assert set(links) == {*NOTES_SCHEDULES, ",".join(NOTES_SCHEDULES)}
    for name in NOTES_SCHEDULES:
        query = links[name]
        warmup = 60.0 if name == "constant_with_warmup" else 0.0
        assert (query["lr"], query["steps"], float(query["warmup"][0])) == (["0.0002"], ["600"], warmup)
        # The Guide's mini plot is the exact curve of that run ...
        plan = plan_steps(max_steps=600, warmup_steps=warmup)
        expected = compute_curve(name, 2e-4, plan.total_steps, plan.warmup_steps, {}).lr
        trace = chart(at, f"guide.sched.plot.{name}")["data"][0]
        np.testing.assert_allclose(array(trace["y"]), expected[array(trace["x"]).astype(int)], rtol=0, atol=0)
        # ... and following the link gives the Schedules page that run.
        target = AppTest.from_file(APP, default_timeout=60).run()
        for key, values in query.items():
            target.query_params[key] = values[0]
        target.switch_page("page_scripts/schedules.py")
        target.run()
        assert not target.exception
        state = target.session_state
        assert state["sched.names"] == [name]
        assert state["sched.learning_rate"] == 2e-4 and state["sched.max_steps"] == 600
        assert state["sched.warmup_steps"] == warmup
        drawn = json.loads(target.get("plotly_chart")[0].proto.spec)["data"][0]
        np.testing.assert_allclose(array(drawn["y"]), expected[array(drawn["x"]).astype(int)], rtol=0, atol=0)


def test_accumulation_lesson_shows_a_difference_below_1e_6():
    at = guide("accumulation")
    for n, b in ((4, 2), (3, 3)):
        at.slider(key="guide.acc.n").set_value(n)
        at.slider(key="guide.acc.b").set_value(b).run()
        assert float(metric(at, "Difference, the Trainer's way")) < 1e-6
        assert float(metric(at, "Difference, mean of means")) > 1e-4
        assert at.success and not at.error


def test_clipping_demo_scales_the_vector_to_the_threshold():
    at = guide("grad-norm")
    at.slider(key="guide.clip.x").set_value(6.0)
    at.slider(key="guide.clip.y").set_value(8.0)
    at.slider(key="guide.clip.tau").set_value(2.0).run()
    assert float(metric(at, "‖g‖ before (the logged grad_norm)")) == pytest.approx(10.0)
    assert float(metric(at, "‖g′‖ after clipping")) == pytest.approx(2.0, rel=1e-5)
    after = chart(at, "guide.clip.chart")["data"][-1]
    assert array(after["x"])[-1] == pytest.approx(1.2, rel=1e-5) and array(after["y"])[-1] == pytest.approx(
        1.6, rel=1e-5
    )
    at.slider(key="guide.clip.tau").set_value(10.0).run()  # 10 = ‖g‖: nothing to clip
    assert float(metric(at, "‖g′‖ after clipping")) == pytest.approx(10.0)


def test_weight_decay_lesson_lists_the_groups_from_transformers():
    at = guide("weight-decay")
    at.toggle(key="guide.wd.groups").set_value(True).run()
    assert not at.exception
    tables = [t.value for t in at.dataframe]
    not_decayed = next(t for t in tables if "not decayed (weight_decay = 0)" in t.columns)
    assert any("norm" in n for n in not_decayed.iloc[:, 0])


def test_example_lesson_runs_the_corrected_example():
    at = guide("example")
    code = at.code[0].value
    assert (
        "activation_checkpointing=True" in code
        and "warmup_steps=0.03" in code
        and "warmup_ratio=" not in code.split("#")[0]
    )
    at.button(key="guide.example.run").click().run()
    assert not at.exception and not at.error
    assert at.success and "built the TrainingArguments" in at.success[0].value


def test_arguments_lesson_checks_names_against_the_installed_libraries():
    at = guide("arguments")
    at.toggle(key="guide.args.check").set_value(True).run()
    assert not at.exception
    table = at.table[0].value
    row = table[table["in the notes"] == "warmup_ratio"].iloc[0]
    assert row["name today"] == "warmup_steps" and row["notes' name installed"] == "no"
    row = table[table["in the notes"] == "evaluation_strategy"].iloc[0]
    assert row["name today"] == "eval_strategy"
    row = table[table["in the notes"] == "save_safetensors"].iloc[0]
    assert row["name today"] == "(removed)" and row["notes' name installed"] == "no"


def test_returning_from_another_page_reopens_the_same_lesson():
    at = in_app("grad-norm")
    at.switch_page("page_scripts/schedules.py").run()
    del at.query_params["lesson"]
    at.switch_page("page_scripts/guide.py").run()
    assert not at.exception and at.header[0].value == "Max gradient norm (clipping)"


def test_paraphrase_experiment_opens_the_train_page_preset(tmp_path, monkeypatch):
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path))
    from lrexplorer.app.common.run_state import RUN_FORM

    at = in_app("knowledge")
    at.slider(key="guide.phrasings").set_value(2).run()
    assert (tmp_path / "guide-data" / "facts-2" / "train.jsonl").is_file()  # written for the link's run
    link = next(e.proto for e in at.get("page_link") if e.proto.label == "Set up 2 phrasings on the Train page")
    at = AppTest.from_file(APP, default_timeout=60).run()
    for key, values in parse_qs(link.query_string).items():
        at.query_params[key] = values[0]
    at.switch_page("page_scripts/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Train"
    assert Path(at.session_state[RUN_FORM.key("dataset")]).resolve() == (tmp_path / "guide-data" / "facts-2").resolve()
    assert at.session_state[RUN_FORM.key("max_steps")] == 150
    assert at.session_state[RUN_FORM.key("eval_strategy")] == "steps"


def test_finished_paraphrase_runs_are_drawn(tmp_path, monkeypatch):
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path))
    run = tmp_path / "some-run"
    run.mkdir()
    (run / "config.yaml").write_text("dataset: builtin:facts\nmax_steps: 150\neval_strategy: steps\n")
    (run / "status.json").write_text(json.dumps({"state": "completed", "run_id": "some-run", "created_at": 1.0}))
    records = [{"step": s, "loss": 5.0 / s} for s in range(1, 31)] + [{"step": 15, "eval_loss": 2.0}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    at = guide("knowledge")
    at.slider(key="guide.phrasings").set_value(5).run()
    assert not at.exception
    spec = chart(at, "guide.runs_chart")
    assert [t["name"] for t in spec["data"]] == ["5 phrasings: training loss", "5 phrasings: held-out loss"]
    assert len(spec["layout"]["shapes"]) == 2  # epoch boundaries at updates 15 and 30
    at = in_app("knowledge")
    at.slider(key="guide.phrasings").set_value(5).run()
    links = [(e.proto.page, e.proto.query_string) for e in at.get("page_link")]
    assert ("train", "run=some-run") in links


def test_lessons_without_a_torch_demo_load_neither_torch_nor_transformers():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        "for lesson in ('knowledge', 'checkpointing', 'example'):\n"
        f"    at = AppTest.from_file({PAGE!r}, default_timeout=60)\n"
        "    at.query_params['lesson'] = lesson\n"
        "    at.run()\n"
        "    assert not at.exception, lesson\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split()[-2:] == ["False", "False"]


def test_introduction_says_what_the_notes_are():
    at = guide()
    intro = next(e for e in at.expander if "the notes" in e.label)
    assert "training notes" in intro.markdown[0].value and "renamed" in intro.markdown[0].value


def test_search_hits_show_their_text_and_open_the_lesson_at_the_matching_section():
    from lrexplorer.guide.search import search

    at = guide()
    at.text_input(key="guide.search").set_value("gradient accumulation loss").run()
    hits = search("gradient accumulation loss")
    index, hit = next((i, h) for i, h in enumerate(hits) if h.anchor)
    assert at.button(key=f"guide.hit.{index}").label == hit.label
    assert any(c.value == hit.snippet for c in at.caption), "each hit's text is on the page, not in a tooltip"
    at.button(key=f"guide.hit.{index}").click().run()
    assert at.radio(key="guide.lesson").value == hit.lesson and not at.exception
    scripts = [h.proto.body for h in at.get("html")]
    assert any(f"getElementById('{hit.anchor}')" in s for s in scripts), scripts
    at.run()  # scrolls once: the next run leaves the reader where they are
    assert not any("scrollIntoView" in h.proto.body for h in at.get("html"))


@pytest.mark.parametrize("lesson", [lesson.id for lesson in LESSONS])
def test_every_lesson_links_to_a_tool_and_each_link_presets_it(lesson, tmp_path, monkeypatch):
    """The README promises each lesson a link that opens the right tool preset: every lesson has one, and
    every link's query is read by its page without a value ignored (Train links reach the form's fields)."""
    from lrexplorer.app.pages import PAGES
    from lrexplorer.catalogues.params import CATALOGUE

    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path))
    at = in_app(lesson)
    links = {(e.proto.page, e.proto.query_string) for e in at.get("page_link") if e.proto.page in PAGES}
    assert links, f"lesson {lesson} links to no tool"
    for page, query_string in links:
        query = {k: v[0] for k, v in parse_qs(query_string).items()}
        target = AppTest.from_file(APP, default_timeout=120).run()
        for key, value in query.items():
            target.query_params[key] = value
        target.switch_page(PAGES[page].script).run()
        assert not target.exception, (page, query, [e.value for e in target.exception])
        ignored = [w.value for w in target.warning if "ignored" in w.value]
        assert not ignored, (page, query, ignored)
        if page == "train" and "run" not in query:
            for key, value in query.items():
                assert target.session_state[f"train.{key}"] == CATALOGUE[key].convert(value), (key, value)
