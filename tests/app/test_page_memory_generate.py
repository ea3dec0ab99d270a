"""The Memory page's Generation tab and its notes on the training tab, through Streamlit's AppTest: the tab
shows the generation engine's figures for its widgets, what fits a GPU, and refuses a setup by field; the
training tab says what TRL's SFTConfig would turn on, and which FSDP2 groups its per-rank figures assume."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from lrexplorer.catalogues.params import CATALOGUE, MEMORY
from lrexplorer.core.units import GIB
from lrexplorer.memory.analytic.generate import estimate_generation
from lrexplorer.memory.generation import GenerationSetup
from lrexplorer.memory.model_source import resolve_model

PAGE = str(Path(__file__).resolve().parents[2] / "lrexplorer" / "app" / "page_scripts" / "memory.py")


def page(**query: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_generation_tab_shows_the_engine_s_figures_for_its_widgets() -> None:
    at = page(model="Llama-3.1-8B")
    for name in ("batch_size", "prompt_length", "max_new_tokens", "min_new_tokens"):
        widget = at.number_input(key=f"mem.gen.{name}")
        assert widget.label == name and CATALOGUE[name].help in widget.help
        assert widget.value == CATALOGUE[name].default_for(MEMORY)
    at.number_input(key="mem.gen.batch_size").set_value(8)
    at.number_input(key="mem.gen.prompt_length").set_value(4096)
    at.run()
    arch = resolve_model("Llama-3.1-8B").architecture
    est = estimate_generation(arch, GenerationSetup(batch_size=8, prompt_length=4096, max_new_tokens=256), 131072)
    assert metric(at, "Peak (generate)") == f"{est.peak_bytes / GIB:.2f} GiB"
    assert metric(at, "KV cache at the end") == f"{est.kv_cache_bytes / GIB:.2f} GiB"
    assert metric(at, "Peak phase") == est.peak_phase
    fit = " ".join(s.value for s in at.success)
    assert "Fits. NVIDIA H100 80GB" in fit and "Largest batch_size at these lengths" in fit
    assert any(el.proto.id.endswith("mem.gen.sweep") or "mem.gen.sweep" in el.proto.id for el in at.get("plotly_chart"))


def test_a_setup_the_estimate_refuses_is_named_and_a_gpu_that_is_too_small_says_so() -> None:
    at = page(model="Llama-3.1-8B")
    at.number_input(key="mem.gen.prompt_length").set_value(131000)
    at.run()
    assert any("max_new_tokens" in e.value and "max_position_embeddings" in e.value for e in at.error)
    at.number_input(key="mem.gen.prompt_length").set_value(8192)
    at.number_input(key="mem.gen.batch_size").set_value(64)
    at.run()
    at.selectbox(key="mem.gen.gpu").set_value("NVIDIA L4")
    at.run()
    assert any("Does not fit. NVIDIA L4" in w.value for w in at.warning)


def test_gemma2_generation_is_refused_by_name_while_its_training_step_is_estimated() -> None:
    at = page(model="Gemma-2-2B")
    assert any("model: generation memory is modelled for llama, mistral, qwen2" in e.value for e in at.error)
    assert metric(at, "Peak per device")  # the training tab still renders


def test_training_tab_says_what_trl_s_sftconfig_would_turn_on() -> None:
    at = page(model="SmolLM2-135M", dtype="float32", device="cpu")
    notes = " ".join(i.value for i in at.info)
    assert "TRL's defaults, bf16=true and activation_checkpointing=true" in notes
    chosen = page(model="SmolLM2-135M", dtype="float32", device="cpu", bf16="true", activation_checkpointing="true")
    assert not any("SFTConfig" in i.value for i in chosen.info)
    plain = page(model="SmolLM2-135M", trainer="transformers")
    assert not any("SFTConfig" in i.value for i in plain.info)


def test_the_per_rank_table_says_which_fsdp2_groups_it_assumes() -> None:
    run = {"model": "Llama-3.1-8B", "bf16": "true", "num_gpus": "8", "fsdp": "true", "max_length": "2048"}
    at = page(**run)
    captions = " ".join(c.value for c in at.caption)
    assert "as accelerate's fsdp2_prepare_model makes them" in captions
    peak = metric(at, "Peak per GPU (rank)")
    layers = page(**run, fsdp_wrap="layers")
    assert "fully_shard on each decoder layer, then on the model" in " ".join(c.value for c in layers.caption)
    assert float(metric(layers, "Peak per GPU (rank)").split()[0]) > float(peak.split()[0])
