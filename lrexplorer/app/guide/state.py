"""The Guide's settings: the lesson on screen, the search, and the choices of every demonstration, as the
page's `GUIDE` state (namespace `guide.`, in the address). The lesson is always named (`?lesson=ID`, a link
a teacher shares); a demonstration's setting only when it differs from its start, by its name
(`clip.tau=2`, `mem.checkpointing.batch=4`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lrexplorer.app.common.field_widgets import query_text
from lrexplorer.app.common.page_state import Decoded, PageState
from lrexplorer.core.fields import str_to_bool
from lrexplorer.guide import LESSONS
from lrexplorer.guide.memory_curves import DEFAULT_MODEL, model_names
from lrexplorer.guide.paraphrases import MAX_PHRASINGS


@dataclass(frozen=True)
class Setting:
    default: Any
    low: float | None = None  # numbers: the widget's range, so a link cannot set a value it refuses
    high: float | None = None
    choices: tuple[str, ...] | None = None


MEMORY_SHOW = ("peak memory", "activations only")
WEIGHT_DECAYS = (0.001, 0.01, 0.1, 0.3)
SETTINGS: dict[str, Setting] = {
    "lesson": Setting(LESSONS[0].id, choices=tuple(lesson.id for lesson in LESSONS)),
    "search": Setting(""),
    "phrasings": Setting(1, 1, MAX_PHRASINGS),
    "sched.lr": Setting(5e-5, 1e-7, 1.0),
    "sched.steps": Setting(1000, 10, 100_000),
    "sched.warmup": Setting(100, 0, 50_000),  # at most half of sched.steps, kept so by the lesson
    "acc.n": Setting(4, 1, 8),
    "acc.b": Setting(2, 1, 4),
    "acc.dtype": Setting("float32", choices=("float32", "float64")),
    "wd.lambda": Setting(0.1),
    "wd.groups": Setting(False),
    "clip.x": Setting(3.0, -10.0, 10.0),
    "clip.y": Setting(4.0, -10.0, 10.0),
    "clip.tau": Setting(1.0, 0.0, 10.0),
    "args.check": Setting(False),
    **{
        f"mem.{topic}.{name}": setting
        for topic in ("checkpointing", "flash-attention")
        for name, setting in (
            ("model", Setting(DEFAULT_MODEL)),
            ("batch", Setting(1, 1, 64)),
            ("what", Setting(MEMORY_SHOW[0], choices=MEMORY_SHOW)),
        )
    },
}


def _defaults() -> dict[str, Any]:
    return {name: s.default for name, s in SETTINGS.items()}


def _to_query(values: Mapping[str, Any]) -> dict[str, str]:
    out = {"lesson": str(values["lesson"])}
    out.update({n: query_text(v) for n, v in values.items() if n != "lesson" and v != SETTINGS[n].default})
    return out


def _parse(name: str, text: str) -> Any:
    setting = SETTINGS[name]
    default = setting.default
    if name.endswith(".model"):
        if text not in model_names():
            raise ValueError(f"unknown model preset {text!r}")
        return text
    if isinstance(default, bool):
        return str_to_bool(text)
    if name == "wd.lambda":
        value = float(text)
        if value not in WEIGHT_DECAYS:
            raise ValueError(f"must be one of {', '.join(map(str, WEIGHT_DECAYS))}")
        return value
    if setting.choices is not None:
        if text not in setting.choices:
            raise ValueError(f"unknown value {text!r}")
        return text
    if isinstance(default, (int, float)):
        value = type(default)(float(text)) if isinstance(default, float) else int(text)
        assert setting.low is not None and setting.high is not None
        if not setting.low <= value <= setting.high:
            raise ValueError(f"must be from {setting.low:g} to {setting.high:g}")
        return value
    return text


def _from_query(query: Mapping[str, str]) -> Decoded:
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, text in query.items():
        if name not in SETTINGS:
            problems.append(f"link parameter `{name}` ignored: not a setting of the Guide")
            continue
        try:
            values[name] = _parse(name, text)
        except ValueError as exc:
            problems.append(f"link parameter `{name}` ignored: {exc}")
    return values, [], problems


GUIDE = PageState("guide", "guide", _defaults, _to_query, _from_query)
