"""The Memory page never shows figures for another setup than its inputs: the sequence chart at short
lengths, settings that survive a change of model source, the CPU wording, and savings rows that say what
they compare (and why a saving is nil or negative)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from test_page_memory import chart, metric, page, values

from lrexplorer.catalogues.presets import find_preset
from lrexplorer.core.units import GIB
from lrexplorer.memory.advice.savings import savings
from lrexplorer.memory.analytic.estimate import estimate
from lrexplorer.memory.model_source import resolve_model
from lrexplorer.memory.setup import TrainingSetup

ROOT = Path(__file__).resolve().parents[2]


def test_sequence_chart_below_512_tokens_keeps_its_axes_and_draws_the_chosen_attention() -> None:
    at = page(model="Qwen2.5-0.5B", per_device_train_batch_size="2", max_length="300")
    assert not at.exception
    spec = chart(at, "mem.sequence")
    x, y = spec["layout"]["xaxis"], spec["layout"]["yaxis"]
    # Log axes take their range in powers of ten: 256 to 8192 tokens, nothing stretched to 10^300.
    assert 2.3 <= x["range"][0] < math.log10(256) and math.log10(8192) < x["range"][1] <= 4.0
    lines = {t["name"]: t for t in spec["data"] if t.get("showlegend", True) is not False}
    chosen = next(t for name, t in lines.items() if "your setup" in name)
    assert "sdpa" in chosen["name"] and any(name.startswith("eager") for name in lines)
    xs = list(values(chosen["x"]))
    # The point at max_length is the page's own headline peak.
    assert abs(values(chosen["y"])[xs.index(300)] - metric(at, "Peak per device")) < 0.01
    low, high = 10 ** y["range"][0], 10 ** y["range"][1]
    ticks = y["tickvals"]
    assert len(ticks) >= 3 and all(low <= t <= high for t in ticks)
    assert all(float(f"{t:.3g}") == t for t in ticks)  # short, readable labels


def test_settings_survive_a_switch_of_model_source(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(dict(find_preset("Qwen2.5-0.5B").config)))
    at = page(model="Qwen2.5-0.5B", per_device_train_batch_size="3", max_length="700")
    at.number_input(key="mem.gradient_accumulation_steps").set_value(2).run()
    preset_peak = metric(at, "Peak per device")
    at.radio(key="mem.source").set_value("Local config.json").run()
    assert not at.metric  # nothing shown until a config is named
    at.text_input(key="mem.path").set_value(str(config)).run()
    shown = {k: at.number_input(key=f"mem.{k}").value for k in ("per_device_train_batch_size", "max_length")}
    assert shown == {"per_device_train_batch_size": 3, "max_length": 700}
    assert at.number_input(key="mem.gradient_accumulation_steps").value == 2
    assert metric(at, "Peak per device") == preset_peak  # the same architecture, the same setup
    at.radio(key="mem.source").set_value("Hub id").run()
    at.radio(key="mem.source").set_value("Preset").run()
    assert at.number_input(key="mem.max_length").value == 700
    assert metric(at, "Peak per device") == preset_peak


def test_cpu_wording_has_no_gpu_overheads() -> None:
    at = page(model="SmolLM2-135M", per_device_train_batch_size="1", max_length="64")
    at.selectbox(key="mem.device").set_value("cpu")
    at.run()
    assert not at.exception
    assert any(m.label == "Peak (CPU process)" for m in at.metric)
    for key in ("mem.phases", "mem.sequence"):
        spec = chart(at, key)
        text = json.dumps(spec)
        assert "CUDA" not in text and "per device" not in text and "per GPU" not in text
        assert "in the CPU process" in json.dumps(spec["layout"])


def test_savings_rows_say_what_they_compare() -> None:
    at = page()
    table = next(d.value for d in at.table if "compares" in d.value.columns and "all chosen" in str(d.value))
    attention = table[table["setting"].str.startswith("memory-efficient attention")].iloc[0]
    assert "default, not set by you" in attention["setting"]
    assert attention["compares"] == "attn_implementation eager → sdpa"
    if float(attention["saves GiB"]) <= 0.005:
        assert attention["note"]
    more = next(d.value for d in at.table if "compares" in d.value.columns and "all chosen" not in str(d.value))
    assert more["compares"].str.len().gt(0).all()
    shard = more[more["setting"].str.startswith("sharding")].iloc[0]
    assert "num_gpus 1 → 2" in shard["compares"]
    # Static tables (every note read in full) with a dash where a figure does not apply, never "None".
    for shown in (table, more):
        assert "None" not in {str(v) for v in shown.to_numpy().ravel()}


def test_a_negative_saving_names_the_component_that_grows() -> None:
    arch = resolve_model("Qwen2.5-0.5B").architecture
    setup = TrainingSetup(per_device_train_batch_size=1, max_length=256, dtype="bfloat16", use_peft=True)
    report = savings(arch, setup)
    shard = next(s for s in report.more if s.trick.key == "zero_stage")
    assert shard.saved_bytes < 0 and shard.estimate is not None
    before, after = estimate(arch, setup).components, estimate(arch, shard.setup).components
    grown = max(after, key=lambda k: after[k] - before[k])
    assert grown == "communication_buffers" and "communication buffers grow" in shard.note
    assert f"{(after[grown] - before[grown]) / GIB:.2f} GiB" in shard.note
    for s in report.more:  # every option changes something
        assert s.compared and s.setup != setup


def test_every_negative_saving_says_why() -> None:
    arch = resolve_model("Qwen2.5-0.5B").architecture
    for batch in (1, 2, 8):
        for peft in (False, True):
            setup = TrainingSetup(per_device_train_batch_size=batch, max_length=300, dtype="bfloat16", use_peft=peft)
            report = savings(arch, setup)
            for s in [*report.chosen, *report.more]:
                if s.estimate is not None and s.saved_bytes < 0:
                    assert s.note.startswith("costs memory"), (batch, peft, s.trick.key, s.note)
