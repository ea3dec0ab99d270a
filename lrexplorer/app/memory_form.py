"""The Memory page's form: the model picker (preset, local config or Hub id) and the training setup,
named as in TrainingArguments / PEFT / bitsandbytes, seeded from the URL (the Guide's links).
Everything numeric comes from `lrexplorer.memory`; this module only lays out widgets.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ..fields import FieldError
from ..memory.architecture import Architecture
from ..memory.presets import load_presets
from ..memory.setup import ATTENTION, DTYPES, OPTIMIZERS, TrainingSetup
from ..memory.sources import ModelSource, resolve_model

PRESET, LOCAL, HUB = "Preset", "Local config.json", "Hub id"
PRECISION = ("none", "bf16", "fp16")
SHARDING = ("none / DDP", "ZeRO-1", "ZeRO-2", "ZeRO-3", "FSDP full shard")
DEFAULTS: dict[str, Any] = {
    "mem.source": PRESET,
    "mem.preset": "Llama-3.2-1B",
    "mem.path": "",
    "mem.hub": "",
    "mem.per_device_train_batch_size": 4,
    "mem.max_length": 1024,
    "mem.gradient_accumulation_steps": 1,
    "mem.gradient_checkpointing": False,
    "mem.optim": "adamw_torch_fused",
    "mem.torch_dtype": "as in config",
    "mem.precision": "none",
    "mem.attn_implementation": "default",
    "mem.lora_r": 0,
    "mem.lora_targets": [],
    "mem.load_in_4bit": False,
    "mem.double_quant": False,
    "mem.num_gpus": 1,
    "mem.sharding": SHARDING[0],
    "mem.device": "cuda",
}
_TRUE = ("1", "true", "yes", "on")


def apply_query(query: dict[str, str]) -> list[str]:
    """Preset widgets from ?model=&per_device_train_batch_size=... (the Guide's links), once per query."""
    signature = repr(sorted(query.items()))
    if st.session_state.get("mem.query_sig") == signature:
        return st.session_state.get("mem.query_problems", [])
    st.session_state["mem.query_sig"] = signature
    problems = []
    ints = ("per_device_train_batch_size", "max_length", "gradient_accumulation_steps", "lora_r", "num_gpus")
    for key, text in query.items():
        try:
            if key == "model":
                if text in load_presets():
                    st.session_state.update({"mem.source": PRESET, "mem.preset": text})
                else:
                    st.session_state.update(
                        {
                            "mem.source": LOCAL if text.startswith((".", "/", "~")) else HUB,
                            "mem.path" if text.startswith((".", "/", "~")) else "mem.hub": text,
                        }
                    )
            elif key in ints:
                st.session_state[f"mem.{key}"] = int(text)
            elif key in ("gradient_checkpointing", "load_in_4bit"):
                st.session_state[f"mem.{key}"] = text.lower() in _TRUE
            elif key in ("bf16", "fp16"):
                if text.lower() in _TRUE:
                    st.session_state["mem.precision"] = key
            elif key == "attn_implementation" and text in ATTENTION:
                st.session_state["mem.attn_implementation"] = text
            elif key == "optim" and text in OPTIMIZERS:
                st.session_state["mem.optim"] = text
            elif key == "torch_dtype" and text in DTYPES:
                st.session_state["mem.torch_dtype"] = text
            else:
                problems.append(f"link parameter {key}={text!r} was not understood and is ignored")
        except ValueError:
            problems.append(f"link parameter {key}={text!r} is not a whole number and is ignored")
    st.session_state["mem.query_problems"] = problems
    return problems


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
    """The training settings, named as in TrainingArguments / PEFT / bitsandbytes."""
    c = st.columns(4)
    batch = c[0].number_input("per_device_train_batch_size", min_value=1, step=1, key="mem.per_device_train_batch_size")
    length = c[1].number_input(
        "max_length",
        min_value=1,
        step=256,
        key="mem.max_length",
        help="Tokens per sequence. Every sequence is taken this long (the worst case).",
    )
    ga = c[2].number_input("gradient_accumulation_steps", min_value=1, step=1, key="mem.gradient_accumulation_steps")
    device = c[3].selectbox(
        "device",
        ("cuda", "cpu"),
        key="mem.device",
        help="cpu: a run on the CPU (no CUDA context, compared with the RAM).",
    )
    c = st.columns(4)
    loaded = str(config.get("dtype") or config.get("torch_dtype") or "float32")
    dtype = c[0].selectbox(
        "torch_dtype",
        ("as in config", *DTYPES),
        key="mem.torch_dtype",
        help=f"Weights' dtype. 'as in config' loads {loaded}, as transformers 5 does by default.",
    )
    precision = c[1].selectbox(
        "mixed precision", PRECISION, key="mem.precision", help="bf16 / fp16: TrainingArguments' autocast flags."
    )
    attn = c[2].selectbox(
        "attn_implementation",
        ("default", *ATTENTION),
        key="mem.attn_implementation",
        help=f"default: {arch.default_attn_implementation} for this model.",
    )
    optim = c[3].selectbox(
        "optim", tuple(OPTIMIZERS), key="mem.optim", help="\n\n".join(f"**{k}**: {v}" for k, v in OPTIMIZERS.items())
    )
    c = st.columns(4)
    ckpt = c[0].toggle("gradient_checkpointing", key="mem.gradient_checkpointing")
    r = c[1].number_input("lora_r (0: full fine-tuning)", min_value=0, step=8, key="mem.lora_r")
    targets = c[2].multiselect(
        "lora_target_modules",
        ("all-linear", *arch.linear_names()),
        key="mem.lora_targets",
        placeholder="PEFT's default",
        disabled=r == 0,
    )
    q4 = c[3].toggle("load_in_4bit (QLoRA)", key="mem.load_in_4bit", disabled=r == 0)
    dq = c[3].toggle("bnb_4bit_use_double_quant", key="mem.double_quant", disabled=not q4 or r == 0)
    c = st.columns(4)
    gpus = c[0].number_input("num_gpus", min_value=1, step=1, key="mem.num_gpus")
    sharding = c[1].selectbox("sharding", SHARDING, key="mem.sharding")
    target = "all-linear" if "all-linear" in targets else (tuple(targets) or None)
    return TrainingSetup(
        per_device_train_batch_size=int(batch),
        max_length=int(length),
        gradient_accumulation_steps=int(ga),
        activation_checkpointing=ckpt,
        optim=optim,
        dtype=(loaded if loaded in DTYPES else "float32") if dtype == "as in config" else dtype,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        attn_implementation=None if attn == "default" else attn,
        use_peft=r > 0,
        lora_r=int(r) or 16,
        lora_target_modules=target if r else None,
        load_in_4bit=bool(q4 and r),
        bnb_4bit_use_double_quant=bool(dq and q4 and r),
        num_gpus=int(gpus),
        zero_stage=SHARDING.index(sharding) if sharding.startswith("ZeRO") else 0,
        fsdp=sharding.startswith("FSDP"),
        device=device,
    )
