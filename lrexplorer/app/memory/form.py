"""The Memory page's form: the model picker (preset, local config or Hub id) and the training setup,
named as in TrainingArguments / PEFT / bitsandbytes, seeded from the URL (the Guide's links).
Everything numeric comes from `lrexplorer.memory`; this module only lays out widgets.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import streamlit as st

from lrexplorer.app.common import field_widgets as fw
from lrexplorer.app.common import widgets
from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.catalogues.params import CATALOGUE, MEMORY
from lrexplorer.catalogues.presets import load_presets
from lrexplorer.core.fields import FieldError
from lrexplorer.memory.model_source import ModelSource, resolve_model
from lrexplorer.memory.setup import FSDP_ONLY, TrainingSetup, setup_from_values

MEMORY_MODEL = CATALOGUE["model"].default_for(MEMORY)

PRESET, LOCAL, HUB = "Preset", "Local config.json", "Hub id"
PREFIX = "mem."
# The setup form, row by row: every field the memory tool takes except the model (the picker above).
ROWS: tuple[tuple[str, ...], ...] = (
    ("per_device_train_batch_size", "max_length", "gradient_accumulation_steps", "device"),
    ("dtype", "bf16", "fp16", "attn_implementation"),
    ("optim", "trainer", "activation_checkpointing", "use_peft"),
    ("lora_r", "lora_target_modules", "load_in_4bit", "bnb_4bit_use_double_quant"),
    ("num_gpus", "zero_stage", "fsdp"),
    FSDP_ONLY,
    ("packing", "padding_free", "masked_label_fraction", "longest_example"),
)
SETUP_FIELDS = tuple(name for row in ROWS for name in row)
LORA_ONLY = ("lora_r", "lora_target_modules", "load_in_4bit", "bnb_4bit_use_double_quant")
SFT_ONLY = ("packing", "padding_free")  # SFTConfig's batch shapes: nothing to the plain Trainer
DEFAULTS: dict[str, Any] = {"mem.source": PRESET, "mem.preset": MEMORY_MODEL, "mem.path": "", "mem.hub": ""}


def seed_form() -> None:
    """The picker's first values, and each setup input at its field's default for a memory estimate."""
    widgets.seed_state(DEFAULTS)
    fw.seed(PREFIX, MEMORY, SETUP_FIELDS)
    keep_values([*DEFAULTS, *(PREFIX + name for name in SETUP_FIELDS)])


def keep_values(keys: Iterable[str]) -> None:
    """Streamlit forgets a widget's value on a run that does not draw it (the setup form is not drawn while
    the Hub id or the path is still empty, the preset box only for presets): re-assigning each value makes
    it the page's own, so the preset, batch, length and accumulation survive a trip through another source."""
    for key in keys:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def apply_query(query: dict[str, str]) -> tuple[list[str], list[str]]:
    """Preset the form from ?model=&per_device_train_batch_size=... (the Guide's links), once per query.

    Returns (notes, problems): old names such as gradient_checkpointing are read under their current
    name with a note; a value the field refuses, or an unknown name, is ignored and reported."""
    signature = repr(sorted(query.items()))
    if st.session_state.get("mem.query_sig") == signature:
        return st.session_state.get("mem.query_notes", []), st.session_state.get("mem.query_problems", [])
    st.session_state["mem.query_sig"] = signature
    values, notes, problems = fw.query_values(query, ("model", *SETUP_FIELDS))
    for name, value in values.items():
        if name != "model":
            st.session_state[PREFIX + name] = value
        elif value in load_presets():
            st.session_state.update({"mem.source": PRESET, "mem.preset": value})
        else:
            local = value.startswith((".", "/", "~"))
            st.session_state.update({"mem.source": LOCAL if local else HUB, "mem.path" if local else "mem.hub": value})
    st.session_state["mem.query_notes"], st.session_state["mem.query_problems"] = notes, problems
    return notes, problems


@st.cache_data(ttl=600, show_spinner="Fetching the config from the Hugging Face Hub ...")
def _hub_source(hub_id: str) -> ModelSource:
    return resolve_model(hub_id)


def model_picker() -> ModelSource | None:
    """The model: a preset, a local config.json, or a Hub id. Shows why when it cannot be used."""
    presets = load_presets()
    source = st.radio("Model from", (PRESET, LOCAL, HUB), key="mem.source", horizontal=True)
    try:
        if source == PRESET:
            names = sorted(presets, key=lambda n: resolve_model(n).architecture.n_params)
            name = st.selectbox(
                "Preset",
                names,
                key="mem.preset",
                format_func=lambda n: f"{n} ({resolve_model(n).architecture.n_params / 1e9:.2f} B)",
                help="Published config.json values of popular models; no weights are downloaded.",
            )
            return resolve_model(name)
        if source == LOCAL:
            path = st.text_input(
                "Path to a config.json or a model folder",
                key="mem.path",
                placeholder="/models/my-model or ./config.json",
            )
            return resolve_model(path) if path.strip() else None
        hub = st.text_input(
            "Hugging Face Hub id",
            key="mem.hub",
            placeholder="owner/name",
            help="Only its config.json is fetched (needs internet; gated models need a login).",
        )
        return _hub_source(hub.strip()) if hub.strip() else None
    except FieldError as exc:
        st.error(str(exc), icon=":material/error:")
        return None


def architecture_caption(arch: Architecture) -> None:
    st.caption(
        f"{arch.model_type} · {arch.n_params / 1e9:.3f} B parameters · {arch.num_layers} layers · hidden "
        f"{arch.hidden_size} · {arch.num_heads} heads ({arch.num_kv_heads} key/value, dim {arch.head_dim}) · "
        f"MLP {arch.intermediate_size} · vocabulary {arch.vocab_size:,}"
        + (" · tied embeddings" if arch.tie_word_embeddings else "")
    )


def setup_form(arch: Architecture, config: dict[str, Any]) -> TrainingSetup:
    """The training settings, one input per catalogue field, named as in TrainingArguments / PEFT /
    bitsandbytes; raises FieldError naming every field whose value is refused."""
    raw: dict[str, Any] = {}
    for row in ROWS:
        # FSDP's options have long names: their row gives each 3 parts of the width (the caption 2),
        # or the labels are cut.
        cols = st.columns([3] * len(row) + [2] if row == FSDP_ONLY else 4, vertical_alignment="bottom")
        for col, name in zip(cols, row, strict=False):
            # A setting that means nothing here (LoRA's without use_peft, FSDP's without fsdp) is greyed out
            # and not passed on: the estimate takes its default.
            off = (
                (name in LORA_ONLY and not raw["use_peft"])
                or (name == "bnb_4bit_use_double_quant" and not raw["load_in_4bit"])
                or (name in SFT_ONLY and raw["trainer"] != "sft")
                or (name in FSDP_ONLY and not raw["fsdp"])
            )
            value = fw.field_input(
                CATALOGUE[name],
                MEMORY,
                PREFIX + name,
                col,
                options=("all-linear", *arch.linear_names()) if name == "lora_target_modules" else None,
                disabled=off,
            )
            raw[name] = CATALOGUE[name].default_for(MEMORY) if off else value
        if row == FSDP_ONLY and not raw["fsdp"]:
            cols[len(row)].caption(":material/block: FSDP's options: they apply only with fsdp on, ignored now.")
    if not raw["lora_target_modules"]:
        raw["lora_target_modules"] = None  # nothing picked: PEFT's default for the architecture
    notes: list[str] = []
    setup = setup_from_values(raw, config, notes)
    settled = [f"dtype auto = {setup.dtype}, as saved with the model"] if raw["dtype"] == "auto" else []
    if raw["attn_implementation"] == "auto":
        settled.append(f"attn_implementation auto = {arch.default_attn_implementation}, this model's default")
    if settled or notes:
        st.caption(" · ".join(settled + notes))
    return setup
