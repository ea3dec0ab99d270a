"""Bundled model presets: the published `config.json` values of popular models (no weights).

Each preset is one file in `assets/presets/` holding `name`, `hub_id`, optional `aliases` and the
`config` dict exactly as the model's repository publishes it, so adding a model is one file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lrexplorer.core.resources import ASSETS

PRESET_DIR = ASSETS / "presets"


@dataclass(frozen=True)
class Preset:
    name: str
    hub_id: str
    config: dict[str, Any]
    aliases: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def load_presets() -> dict[str, Preset]:
    """All presets by name, in a stable order (family, then size as the file names sort)."""
    presets: dict[str, Preset] = {}
    for path in sorted(PRESET_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        presets[data["name"]] = Preset(
            name=data["name"],
            hub_id=data["hub_id"],
            config=data["config"],
            aliases=tuple(data.get("aliases", ())),
        )
    return presets


def preset_names() -> list[str]:
    return list(load_presets())


def find_preset(text: str) -> Preset | None:
    """The preset named `text` (case-insensitive; aliases and Hub ids such as meta-llama/Llama-3.1-8B work too)."""
    key = text.strip().lower()
    for preset in load_presets().values():
        names = (preset.name, preset.hub_id, *preset.aliases)
        if key in (n.lower() for n in names):
            return preset
    return None
