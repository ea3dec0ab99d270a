"""Catalogue fields of the group "Processes and sharding": how many processes train one run and how
they share the model (FSDP or DeepSpeed ZeRO), under the names accelerate and `TrainingArguments` use.

`fsdp` is a memory-estimate field too (num_gpus sharing the weights). transformers 5 takes `fsdp` as a switch and
every FSDP detail in `fsdp_config`; the older string form (`"full_shard auto_wrap offload"`) is still
accepted and translated here, as `TrainingArguments._apply_legacy_fsdp_to_config` translates it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrexplorer.core.fields import FALSE_WORDS, TRUE_WORDS, Field, FieldError
from lrexplorer.core.groups import MEMORY, TRAIN
from lrexplorer.core.limits import MAX_DEVICES

DIST = "distributed"

# accelerate's launcher: the ZeRO presets lrexplorer writes a DeepSpeed config for ("" = off).
DEEPSPEED_CHOICES = ("", "zero1", "zero2", "zero3", "zero2_offload", "zero3_offload")
# The keys `TrainingArguments._process_fsdp_args` reads for FSDP2 (accelerate's `fsdp_` prefix allowed).
FSDP_CONFIG_KEYS = (
    "version",
    "reshard_after_forward",
    "cpu_offload",
    "activation_checkpointing",
    "cpu_ram_efficient_loading",
    "state_dict_type",
    "auto_wrap_policy",
    "transformer_layer_cls_to_wrap",
    "min_num_params",
)
# The words of the legacy string form that FSDP2 understands (FSDPOption values).
FSDP_WORDS = {"full_shard": ("reshard_after_forward", True), "shard_grad_op": ("reshard_after_forward", False)}
FSDP_FLAGS = {"offload": ("cpu_offload", True), "auto_wrap": None}

DISTRIBUTED: tuple[Field, ...] = (
    Field(
        "num_processes",
        "int",
        1,
        "Processes that train the run together (accelerate launch --num_processes): one per GPU, or several "
        "CPU processes talking through gloo. Each takes its share of every batch; the effective batch grows "
        "with them.",
        DIST,
        "batch-size",
        target="launch",
        low=1,
        high=MAX_DEVICES,
    ),
    Field(
        "fsdp",
        "bool",
        False,
        "PyTorch FSDP (FSDP2) full shard over the GPUs or processes: weights, gradients and optimizer states "
        "each split num_gpus (for a run: num_processes) ways; the details go in fsdp_config. The older string "
        'form ("full_shard auto_wrap", "shard_grad_op offload") is translated.',
        DIST,
        tools=(TRAIN, MEMORY),
        library_default=None,
    ),
    Field(
        "fsdp_config",
        "json",
        {},
        "FSDP settings (with fsdp on), as transformers reads them: version (2, FSDP2), reshard_after_forward "
        "(true: full shard, false: shard_grad_op), cpu_offload, activation_checkpointing, state_dict_type, "
        "auto_wrap_policy, transformer_layer_cls_to_wrap, min_num_params.",
        DIST,
        library_default=None,
    ),
    Field(
        "deepspeed",
        "choice",
        "",
        "DeepSpeed ZeRO: zero1 shards the optimizer states over the processes, zero2 also the gradients, zero3 "
        "also the weights; _offload keeps the sharded states in CPU RAM. lrexplorer writes the DeepSpeed "
        "config; empty: off. Needs the deepspeed package; runs on GPUs and on CPU processes (gloo).",
        DIST,
        library_default=None,
        choices=DEEPSPEED_CHOICES,
    ),
)

FSDP_CONFIG = next(f for f in DISTRIBUTED if f.name == "fsdp_config")


# Truth words of transformers' `str_to_bool`, which reads fsdp_config's reshard_after_forward.
TRUTH = {"y": True, "yes": True, "t": True, "true": True, "on": True, "1": True}
TRUTH |= {"n": False, "no": False, "f": False, "false": False, "off": False, "0": False}


def _unprefixed(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config with accelerate's `fsdp_` prefix dropped, as `TrainingArguments._process_fsdp_args` does."""
    return {k[5:] if k.startswith("fsdp_") else k: v for k, v in config.items()}


def fsdp_config_problem(config: Mapping[str, Any]) -> str | None:
    """Why an fsdp_config cannot be used by lrexplorer's FSDP2 runs, or None."""
    plain = _unprefixed(config)
    unknown = [k for k in plain if k not in FSDP_CONFIG_KEYS]
    if unknown:
        return f"unknown key {unknown[0]!r}; allowed keys: {', '.join(FSDP_CONFIG_KEYS)}"
    version = plain.get("version", 2)
    if str(version) != "2":
        return f"version must be 2 (FSDP2; transformers deprecates FSDP1); got {version!r}"
    if str(plain.get("reshard_after_forward", True)).lower() not in TRUTH:
        return f"reshard_after_forward must be true or false; got {plain['reshard_after_forward']!r}"
    # transformers turns offload on for any truthy value, so the string "false" would offload: only booleans.
    if not isinstance(plain.get("cpu_offload", False), bool):
        return f"cpu_offload must be true or false (a JSON boolean); got {plain['cpu_offload']!r}"
    return None


def fsdp_memory_options(config: Mapping[str, Any]) -> dict[str, bool]:
    """The memory setup's FSDP options from a run's fsdp_config, read as transformers reads them
    (`_process_fsdp_args`): reshard_after_forward (default true: full shard) and cpu_offload (default false),
    either with accelerate's `fsdp_` prefix."""
    plain = _unprefixed(config)
    return {
        "fsdp_reshard_after_forward": TRUTH[str(plain.get("reshard_after_forward", True)).lower()],
        "fsdp_offload_params": bool(plain.get("cpu_offload", False)),
    }


def legacy_fsdp(given: Mapping[str, Any], takes_config: bool) -> tuple[dict[str, Any], list[str], list[FieldError]]:
    """(given with fsdp as true/false, notes, errors): the legacy string form of `fsdp` ("full_shard
    auto_wrap", "shard_grad_op offload", "" for off) translated into fsdp + fsdp_config entries."""
    value = given.get("fsdp")
    if not isinstance(value, str) or value.strip().lower() in (*TRUE_WORDS, *FALSE_WORDS, "none", "null"):
        return dict(given), [], []
    out = dict(given)
    words = value.replace(",", " ").split()
    if not words:
        out["fsdp"] = False
        return out, ['fsdp "" read as fsdp=false (off).'], []
    settings: dict[str, Any] = {}
    for word in words:
        found = FSDP_WORDS.get(word.lower(), FSDP_FLAGS.get(word.lower(), "?"))
        if found == "?":
            allowed = ", ".join([*FSDP_WORDS, *FSDP_FLAGS])
            out.pop("fsdp")
            return out, [], [FieldError("fsdp", f"must be true, false, or words among {allowed}; got {word!r}")]
        if found is not None:
            settings[found[0]] = found[1]
    out["fsdp"] = True
    if not takes_config:
        return out, [f"fsdp {value!r} read as fsdp=true."], []
    try:
        config = FSDP_CONFIG.convert(out.get("fsdp_config") or {})
    except FieldError as exc:
        out.pop("fsdp_config")
        return out, [], [exc]
    for k, v in settings.items():
        config.setdefault(k, v)
    out["fsdp_config"] = config
    return out, [f"fsdp {value!r} read as fsdp=true with fsdp_config {config} (transformers 5's form)."], []
