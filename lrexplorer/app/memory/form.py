"""The Memory page's settings and form: the model picker (preset, local config or Hub id) and the training
setup, named as in TrainingArguments / PEFT / bitsandbytes, and the GPUs it is checked against.

The settings are the page's `MEMORY_STATE` (namespace `mem.`, in the address: `model` for the picker, each
setup field by its name, `gpus`, `extra_gpus`, `advisor_gpu`, `margin`); the Guide's links preset them.
Everything numeric comes from `lrexplorer.memory`; this module only lays out widgets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from lrexplorer.app.common import roles
from lrexplorer.app.common.field_widgets import changed, field_input, query_values, to_widget
from lrexplorer.app.common.page_state import Decoded, PageState
from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.catalogues.params import CATALOGUE, MEMORY
from lrexplorer.catalogues.presets import load_presets
from lrexplorer.core.fields import FieldError
from lrexplorer.memory.advice.budget import DEFAULT_MARGIN_PERCENT, MAX_MARGIN_PERCENT
from lrexplorer.memory.gpus import catalogue_names
from lrexplorer.memory.model_source import ModelSource, resolve_model
from lrexplorer.memory.setup import FSDP_ONLY, TrainingSetup, setup_from_values

MEMORY_MODEL = CATALOGUE["model"].default_for(MEMORY)

PRESET, LOCAL, HUB = "Preset", "Local config.json", "Hub id"
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
# The Generation tab's settings: the same catalogue fields, kept apart from the training step's as `gen.<field>`
# (in the address too), since both tabs are drawn in every run.
GENERATE_ROWS: tuple[tuple[str, ...], ...] = (
    ("batch_size", "prompt_length", "max_new_tokens", "min_new_tokens"),
    ("dtype", "attn_implementation", "device", "load_in_4bit"),
)
GENERATE_FIELDS = tuple(name for row in GENERATE_ROWS for name in row)
GEN = "gen."
GEN_TARGET = {"gen.gpu": "NVIDIA H100 80GB", "gen.margin": DEFAULT_MARGIN_PERCENT}  # the tab's fit check
LORA_ONLY = ("lora_r", "lora_target_modules", "load_in_4bit", "bnb_4bit_use_double_quant")
SFT_ONLY = ("packing", "padding_free")  # SFTConfig's batch shapes: nothing to the plain Trainer
PICKER = {"source": PRESET, "preset": MEMORY_MODEL, "path": "", "hub": ""}
# Without a detected GPU, the estimate is checked against these until the user picks others.
DEFAULT_TARGETS = ("NVIDIA H100 80GB", "NVIDIA A100 40GB", "NVIDIA L4", "NVIDIA GeForce RTX 4090")
GPU_LISTS = ("gpus", "extra_gpus")
ADVISOR = {"advisor_gpu": "", "margin": DEFAULT_MARGIN_PERCENT}  # "": the first GPU compared


def _defaults() -> dict[str, Any]:
    setup = {
        name: to_widget(CATALOGUE[name], CATALOGUE[name].default_for(MEMORY), _options(name)) for name in SETUP_FIELDS
    }
    generate = {GEN + name: to_widget(CATALOGUE[name], CATALOGUE[name].default_for(MEMORY)) for name in GENERATE_FIELDS}
    return {**PICKER, **setup, **generate, **GEN_TARGET, "gpus": list(DEFAULT_TARGETS), "extra_gpus": [], **ADVISOR}


def _options(name: str) -> list[str] | None:
    return [] if name == "lora_target_modules" else None  # a multi-select of the model's linear layers


def _to_query(values: Mapping[str, Any]) -> dict[str, str]:
    out = changed({k: v for k, v in values.items() if k not in PICKER}, _defaults())
    model = {PRESET: values["preset"], LOCAL: values["path"], HUB: values["hub"]}[values["source"]]
    if values["source"] != PRESET or model != MEMORY_MODEL:
        out = {"model": model, **out}
    return out


def _from_query(query: Mapping[str, str]) -> Decoded:
    """Old names such as gradient_checkpointing are read under their current name with a note; a value the
    field refuses, or an unknown name, is ignored and reported."""
    rest = {k: v for k, v in query.items() if k not in (*GPU_LISTS, *ADVISOR) and not k.startswith(GEN)}
    values, notes, problems = query_values(rest, ("model", *SETUP_FIELDS), lists=("lora_target_modules",))
    generate = {k[len(GEN) :]: v for k, v in query.items() if k.startswith(GEN) and k not in GEN_TARGET}
    gen_values, _, gen_problems = query_values(generate, GENERATE_FIELDS)
    values.update({GEN + name: value for name, value in gen_values.items()})
    problems += [p.replace("link parameter `", f"link parameter `{GEN}") for p in gen_problems]
    model = values.pop("model", None)
    if model in load_presets():
        values.update({"source": PRESET, "preset": model})
    elif model:
        local = model.startswith((".", "/", "~"))
        values.update({"source": LOCAL if local else HUB, "path" if local else "hub": model})
    known = set(catalogue_names())
    for name in GPU_LISTS:
        if name in query:
            picked = [g.strip() for g in query[name].split(",") if g.strip()]
            if unknown := [g for g in picked if g not in known]:
                problems.append(f"link parameter `{name}`: unknown GPU {', '.join(unknown)} ignored")
            values[name] = [g for g in picked if g in known]
    if "advisor_gpu" in query:
        values["advisor_gpu"] = query["advisor_gpu"]
    if query.get("gen.gpu") in known:
        values["gen.gpu"] = query["gen.gpu"]
    for name in ("margin", "gen.margin"):
        if name in query:
            try:
                margin = float(query[name])
                if not 0 <= margin <= MAX_MARGIN_PERCENT:
                    raise ValueError
                values[name] = margin
            except ValueError:
                problems.append(
                    f"link parameter `{name}` ignored: must be a percentage from 0 to {MAX_MARGIN_PERCENT:g}"
                )
    return values, notes, problems


MEMORY_STATE = PageState("memory", "mem", _defaults, _to_query, _from_query)


@st.cache_data(ttl=600, show_spinner="Fetching the config from the Hugging Face Hub ...")
def _hub_source(hub_id: str) -> ModelSource:
    return resolve_model(hub_id)


def model_picker() -> ModelSource | None:
    """The model: a preset, a local config.json, or a Hub id. Shows why when it cannot be used."""
    presets = load_presets()
    source = st.radio("Model from", (PRESET, LOCAL, HUB), horizontal=True, **MEMORY_STATE.bind("source"))
    try:
        if source == PRESET:
            names = sorted(presets, key=lambda n: resolve_model(n).architecture.n_params)
            name = st.selectbox(
                "Preset",
                names,
                **MEMORY_STATE.bind("preset"),
                format_func=lambda n: f"{n} ({resolve_model(n).architecture.n_params / 1e9:.2f} B)",
                help="Published config.json values of popular models; no weights are downloaded.",
            )
            return resolve_model(name)
        if source == LOCAL:
            path = st.text_input(
                "Path to a config.json or a model folder",
                **MEMORY_STATE.bind("path"),
                placeholder="/models/my-model or ./config.json",
            )
            if path.strip() and not roles.can_act():  # whether the file exists or not: the same words
                raise FieldError("model", f"{path.strip()[:200]!r}: {roles.UNREADABLE}")
            return resolve_model(path) if path.strip() else None
        hub = st.text_input(
            "Hugging Face Hub id",
            **MEMORY_STATE.bind("hub"),
            placeholder="owner/name",
            help="Only its config.json is fetched (needs internet; gated models need a login).",
        )
        return roles.hub_for_viewers(hub.strip(), _hub_source) if hub.strip() else None
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


def column_widths(row: tuple[str, ...]) -> list[float]:
    """Each input's share of its row by the length of its name (a switch's label sits beside it), so no
    label is cut: bnb_4bit_use_double_quant gets more room than lora_r. FSDP's row keeps a column for its
    caption."""
    widths = [max(14.0, len(name) + (5.0 if CATALOGUE[name].kind == "bool" else 0.0)) for name in row]
    return [*widths, 20.0] if row == FSDP_ONLY else widths + [14.0] * (4 - len(row))


def setup_form(arch: Architecture, config: dict[str, Any]) -> TrainingSetup:
    """The training settings, one input per catalogue field, named as in TrainingArguments / PEFT /
    bitsandbytes; raises FieldError naming every field whose value is refused."""
    raw: dict[str, Any] = {}
    for row in ROWS:
        cols = st.columns(column_widths(row), vertical_alignment="bottom")
        for col, name in zip(cols, row, strict=False):
            # A setting that means nothing here (LoRA's without use_peft, FSDP's without fsdp) is greyed out
            # and not passed on: the estimate takes its default.
            off = (
                (name in LORA_ONLY and not raw["use_peft"])
                or (name == "bnb_4bit_use_double_quant" and not raw["load_in_4bit"])
                or (name in SFT_ONLY and raw["trainer"] != "sft")
                or (name in FSDP_ONLY and not raw["fsdp"])
            )
            value = field_input(
                CATALOGUE[name],
                MEMORY_STATE.bind(name),
                tool=MEMORY,
                container=col,
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
