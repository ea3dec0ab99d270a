"""Where a model's architecture comes from: a bundled preset, a local config.json, or the Hub.

`resolve_model` accepts what a user types in `--model` or the page's picker and returns the config
dict and its `Architecture`. Presets and local files need no torch and no network; a Hub id goes
through `transformers.AutoConfig` (which imports torch) only when it is not a bundled preset.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrexplorer.catalogues.architecture import Architecture, from_config
from lrexplorer.catalogues.presets import find_preset, preset_names
from lrexplorer.core.documents import DocumentError, load_json, read_text
from lrexplorer.core.fields import FieldError


@dataclass(frozen=True)
class ModelSource:
    kind: str  # "preset", "path" or "hub"
    label: str  # what to show: the preset name, the path or the Hub id
    config: dict[str, Any]
    architecture: Architecture


def resolve_model(spec: str) -> ModelSource:
    """Preset name, path to a config.json (or a folder holding one), or a Hub id, in that order."""
    text = (spec or "").strip()
    if not text:
        raise FieldError("model", "no model given: name a preset, a config.json path or a Hub id")
    preset = find_preset(text)
    if preset is not None:
        return ModelSource("preset", preset.name, preset.config, from_config(preset.config, preset.name))
    path = Path(os.path.expanduser(text))
    try:
        exists = path.exists()
    except (OSError, ValueError):  # a name too long for the file system, or a NUL byte: not a path
        exists = False
    if exists or text.endswith(".json") or text.startswith((".", "/", "~")):
        config = read_config_file(path)
        return ModelSource("path", str(path), config, from_config(config, path.name))
    if "/" in text and text.count("/") == 1:
        config = fetch_hub_config(text)
        return ModelSource("hub", text, config, from_config(config, text))
    raise FieldError(
        "model",
        f"unknown model {text!r}: not a preset ({', '.join(preset_names())}), not an existing path, "
        "and not a Hub id of the form owner/name",
    )


def read_config_file(path: Path) -> dict[str, Any]:
    """The JSON in `path`, or in `path/config.json` when `path` is a folder."""
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise FieldError("model", f"no config file at {str(path)!r}")
    try:
        config = load_json(read_text(path))
    except DocumentError as exc:
        raise FieldError("model", f"{str(path)!r}: {exc}") from None
    if not isinstance(config, dict):
        raise FieldError("model", f"{str(path)!r} must hold a JSON object")
    # A multimodal or wrapped config keeps the language model under text_config; estimate that part.
    if "text_config" in config and "hidden_size" not in config and isinstance(config["text_config"], dict):
        return dict(config["text_config"])
    return config


def fetch_hub_config(hub_id: str) -> dict[str, Any]:
    """The config of a Hub model through AutoConfig; a clear message when offline or not found."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(hub_id)
    except Exception as exc:  # noqa: BLE001 - OSError, HTTP errors, ValueError (unknown type): all mean 'not available'
        why = (
            "the Hugging Face Hub cannot be reached (offline mode is on)"
            if offline
            else ("it could not be fetched from the Hugging Face Hub (offline, private, gated or misspelled?)")
        )
        raise FieldError(
            "model",
            f"{hub_id!r}: {why}. Use a bundled preset ({', '.join(preset_names())}) or a local "
            f"config.json path instead. ({type(exc).__name__})",
        ) from None
    data = config.to_dict()
    text = data.get("text_config")
    if isinstance(text, dict) and "hidden_size" not in data:
        return text
    return data
