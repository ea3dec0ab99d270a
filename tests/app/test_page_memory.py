"""The Memory page through Streamlit's AppTest: it renders the engine's figures for the widgets'
setup, reads the Guide's links, refuses impossible settings with a message, and its Simulate and
Measure actions compare the estimate with a real (fake-tensor or real-tensor) step."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lrexplorer.app.memory.form import SETUP_FIELDS
from lrexplorer.catalogues.params import CATALOGUE, MEMORY, fields_for
from lrexplorer.guide.links import MEMORY_PRESETS

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "lrexplorer" / "app" / "page_scripts" / "memory.py")


def page(**query: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def fields_for_memory() -> list[str]:
    return [f.name for f in fields_for(MEMORY)]


def charts(at: AppTest) -> dict[str, dict]:
    return {el.proto.id: json.loads(el.proto.spec) for el in at.get("plotly_chart")}


def chart(at: AppTest, key: str) -> dict:
    for cid, spec in charts(at).items():
        if key in cid:
            return spec
    raise AssertionError(f"no chart {key}")


def values(v) -> np.ndarray:
    if isinstance(v, dict):  # plotly 6 typed arrays
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    return np.asarray([np.nan if x is None else x for x in v], dtype=float)


def metric(at: AppTest, label: str) -> float:
    return float(next(m.value for m in at.metric if m.label == label).split()[0])


def test_default_page_renders_the_estimate_and_both_charts() -> None:
    at = page()
    assert not at.exception and not at.error
    peak = metric(at, "Peak per device")
    bars = chart(at, "mem.phases")
    stacked = sum(values(t["y"]) for t in bars["data"] if t["type"] == "bar")
    assert abs(stacked.max() - peak) < 0.01  # the tallest phase is the peak
    # No NVIDIA GPU here: the page says so and offers the catalogue.
    assert any("No NVIDIA GPU detected" in i.value for i in at.info)
    assert any("fits" in p.proto.text or "short" in p.proto.text for p in at.get("progress"))


def test_eager_grows_with_the_square_of_the_length_flash_linearly() -> None:
    at = page(model="SmolLM2-135M", per_device_train_batch_size="1", bf16="true")
    spec = chart(at, "mem.sequence")
    lines = {t["name"].split()[0]: (values(t["x"]), values(t["y"])) for t in spec["data"] if t.get("showlegend", True)}
    _x, eager = lines["eager"]
    _, flash = lines["flash_attention_2"]
    # Doubling the length: eager's increments keep growing about four-fold at long lengths,
    # flash's increments stay about two-fold (a linear term).
    de, df = np.diff(eager), np.diff(flash)
    assert de[-1] / de[-2] > 3.5
    assert df[-1] / df[-2] < 2.5
    assert (eager >= flash - 1e-9).all()


def test_guide_links_preset_the_widgets() -> None:
    for topic, query in MEMORY_PRESETS.items():
        at = page(**query)
        assert not at.exception and not at.error, topic
        assert at.session_state["mem.preset"] == query["model"]
        assert at.session_state["mem.max_length"] == int(query["max_length"])
        if "activation_checkpointing" in query:
            assert at.session_state["mem.activation_checkpointing"] is True
        assert not at.info or not any("read as" in i.value for i in at.info), "the Guide uses current names"


def test_old_names_in_a_link_are_read_under_the_current_name_with_a_note() -> None:
    at = page(model="SmolLM2-135M", gradient_checkpointing="true", torch_dtype="bfloat16", max_seq_length="512")
    assert not at.exception and not at.error and not at.warning
    state = at.session_state
    assert state["mem.activation_checkpointing"] is True
    assert state["mem.dtype"] == "bfloat16" and state["mem.max_length"] == 512
    notes = " ".join(i.value for i in at.info)
    for old, new in (("gradient_checkpointing", "activation_checkpointing"), ("torch_dtype", "dtype")):
        assert f"{old} read as {new}" in notes
    # The same setup written with the current names gives the same estimate.
    new = page(model="SmolLM2-135M", activation_checkpointing="true", dtype="bfloat16", max_length="512")
    assert metric(new, "Peak per device") == metric(at, "Peak per device")


def test_link_values_are_checked_by_the_catalogue_fields() -> None:
    # "on" is not one of HfArgumentParser's spellings of true; 0 is below per_device_train_batch_size's range.
    at = page(model="SmolLM2-135M", activation_checkpointing="on", per_device_train_batch_size="0")
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "activation_checkpointing" in warnings and "per_device_train_batch_size" in warnings
    assert at.session_state["mem.activation_checkpointing"] is False
    assert at.session_state["mem.per_device_train_batch_size"] == CATALOGUE["per_device_train_batch_size"].default


def test_setup_form_is_generated_from_the_catalogue_fields() -> None:
    at = page(model="SmolLM2-135M")
    inputs = {w.key: w for kind in ("number_input", "selectbox", "toggle", "multiselect") for w in at.get(kind)}
    for name in SETUP_FIELDS:
        field, widget = CATALOGUE[name], inputs["mem." + name]
        assert widget.label == name
        assert field.help in widget.help and field.allowed() in widget.help
        default = field.default_for(MEMORY)
        assert widget.value == ([] if default is None and field.kind == "str_list" else default), name
    assert set(fields_for_memory()) == {"model", *SETUP_FIELDS}, "every memory field has an input"


def test_unknown_link_parameter_is_reported_not_fatal() -> None:
    at = page(model="SmolLM2-135M", colour="blue")
    assert not at.exception
    assert any("colour" in w.value for w in at.warning)


def test_impossible_setting_shows_a_message_naming_it() -> None:
    at = page(model="SmolLM2-135M")
    at.selectbox(key="mem.dtype").set_value("float32")
    at.selectbox(key="mem.attn_implementation").set_value("flash_attention_2")
    at.run()
    assert not at.exception
    assert any("flash_attention_2" in e.value for e in at.error)


def test_lora_and_checkpointing_lower_the_peak_and_the_savings_table_lists_them() -> None:
    at = page(model="Llama-3.2-1B")
    before = metric(at, "Peak per device")
    at.toggle(key="mem.activation_checkpointing").set_value(True)
    at.toggle(key="mem.use_peft").set_value(True)
    at.run()
    after = metric(at, "Peak per device")
    assert after < before
    table = next(d.value for d in at.dataframe if "setting" in d.value.columns)
    names = " ".join(table["setting"])
    assert "gradient checkpointing" in names and "LoRA adapters" in names and "all chosen" in names


def test_local_path_and_offline_hub_errors_are_messages() -> None:
    at = page()
    at.radio(key="mem.source").set_value("Local config.json").run()
    at.text_input(key="mem.path").set_value("/no/such/config.json").run()
    assert not at.exception and any("no config file" in e.value for e in at.error)
    at.radio(key="mem.source").set_value("Hub id").run()
    at.text_input(key="mem.hub").set_value("someone/not-bundled").run()
    assert not at.exception and any("Hugging Face Hub" in e.value for e in at.error)


def test_cpu_device_compares_with_ram_and_offers_measure_for_small_models() -> None:
    at = page(model="SmolLM2-135M", per_device_train_batch_size="1", max_length="64")
    at.selectbox(key="mem.device").set_value("cpu")
    at.run()
    assert not at.exception
    assert any("RAM free now" in p.proto.text for p in at.get("progress"))
    assert not at.button(key="mem.measure").disabled


def test_fp16_on_the_cpu_is_advised_as_the_rules_say_and_estimated_without_it() -> None:
    """The page shows the registry's advice in its words, and the figures of the step the Trainer runs."""
    from lrexplorer.memory.model_source import resolve_model
    from lrexplorer.memory.setup import TrainingSetup, subject
    from lrexplorer.rules.registry import BY_NAME

    at = page(model="SmolLM2-135M", per_device_train_batch_size="1", max_length="64")
    at.selectbox(key="mem.device").set_value("cpu").run()
    without = metric(at, "Peak (CPU process)")
    at.toggle(key="mem.fp16").set_value(True).run()
    assert not at.exception and not at.error
    advice = BY_NAME["fp16_ignored_on_cpu"](
        subject(TrainingSetup(device="cpu", fp16=True), resolve_model("SmolLM2-135M").architecture)
    )
    assert advice is not None and advice.text in [w.value for w in at.warning]
    assert metric(at, "Peak (CPU process)") == without


@pytest.mark.slow
def test_measure_button_compares_with_a_real_step() -> None:
    at = page(model="SmolLM2-135M", per_device_train_batch_size="1", max_length="64")
    at.selectbox(key="mem.device").set_value("cpu")
    at.run()
    at.button(key="mem.measure").click().run(timeout=600)
    assert not at.exception and not at.error
    table = next(d.value for d in at.dataframe if "measured GiB" in d.value.columns)
    peak = table[table["phase"] == "PEAK"].iloc[0]
    assert abs(peak["estimated GiB"] - peak["measured GiB"]) / peak["measured GiB"] <= 0.03


def test_the_app_lists_the_memory_page() -> None:
    at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "main.py"), default_timeout=120).run()
    at.switch_page("page_scripts/memory.py")
    at.run()
    assert not at.exception
    assert any(m.label == "Peak per device" for m in at.metric)


@pytest.mark.slow
def test_simulate_button_compares_with_the_simulated_step() -> None:
    # On the CPU: the simulation runs TRL's fused head the CPU way (on a GPU, TRL's Triton kernels run
    # instead, which the estimate models but a CPU simulation cannot run).
    at = page(model="SmolLM2-135M", per_device_train_batch_size="1", max_length="256")
    at.selectbox(key="mem.device").set_value("cpu")
    at.run()
    at.button(key="mem.simulate").click().run(timeout=600)
    assert not at.exception and not at.error
    table = next(d.value for d in at.dataframe if "simulated GiB" in d.value.columns)
    peak = table[table["phase"] == "PEAK"].iloc[0]
    assert abs(peak["estimated GiB"] - peak["simulated GiB"]) / peak["simulated GiB"] <= 0.03
    # Another setup: the result is marked as another setup's, with what changed, and no table is shown.
    at.number_input(key="mem.per_device_train_batch_size").set_value(2).run()
    assert not any("simulated GiB" in d.value.columns for d in at.dataframe)
    assert any("per_device_train_batch_size 1 → 2" in i.value for i in at.info)
    at.number_input(key="mem.per_device_train_batch_size").set_value(1).run()
    assert any("simulated GiB" in d.value.columns for d in at.dataframe)
