"""The run specification: one validated value per catalogue field, the object launch and export share.

`RunSpec.from_dict` takes what a form, a YAML file or CLI flags gave (old names such as warmup_ratio
are translated, with a note), fills lrexplorer's defaults from the catalogue, converts types and
runs every field and cross-field rule. Everything that starts or exports a run reads a `RunSpec`:
`sft_kwargs` is the exact keyword set given to `SFTConfig` by the worker and written into the
exported script and YAML, so a preview can never differ from what runs.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..params import CATALOGUE, RENAMED_BY_OLD, FieldError, defaults
from ..schedules import get_schedule
from .validate import Facts, detect_facts, validate

# SFTConfig fields lrexplorer always sets, whatever the spec: the run folder is the record, so
# trainer-side extras stay off. They are written into exports too, so a script behaves the same.
FIXED_SFT = {"save_only_model": False}


class SpecError(ValueError):
    """Invalid spec: every problem found, each naming its field."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))

    @property
    def fields(self) -> list[str]:
        return [e.field for e in self.errors]


def migrate(given: Mapping[str, Any]) -> tuple[dict[str, Any], list[str], list[FieldError]]:
    """Translate old names (RENAMED) to current ones; unknown names become errors with a suggestion."""
    out: dict[str, Any] = {}
    notes: list[str] = []
    errors: list[FieldError] = []
    for key, value in given.items():
        if key in CATALOGUE:
            out[key] = value
            continue
        old = RENAMED_BY_OLD.get(key)
        if old is None:
            close = difflib.get_close_matches(key, list(CATALOGUE) + list(RENAMED_BY_OLD), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            errors.append(FieldError(key, f"unknown field{hint}"))
            continue
        if old.values is not None:
            lookup = {str(k).lower(): v for k, v in old.values.items()}
            if str(value).lower() not in lookup:
                errors.append(FieldError(key, f"{old.note} The value {value!r} cannot be expressed today"))
                continue
            value = lookup[str(value).lower()]  # noqa: PLW2901 (the old spelling's value, translated)
        if old.new is None:
            notes.append(f"{key} dropped: {old.note}")
            continue
        if old.new in given:
            errors.append(FieldError(key, f"give {old.new} or its old name {key}, not both"))
            continue
        out[old.new] = value
        notes.append(f"{key} read as {old.new}={value}: {old.note}")
    return out, notes, errors


@dataclass
class RunSpec:
    """A validated run: `values` holds every catalogue field (defaults filled in)."""

    values: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, given: Mapping[str, Any] | None = None, facts: Facts | None = None) -> RunSpec:
        values, notes, errors = migrate(dict(given or {}))
        full = defaults()
        for key, value in values.items():
            try:
                full[key] = CATALOGUE[key].convert(value)
            except FieldError as exc:
                errors.append(exc)
        if not errors:  # cross-field rules only make sense on well-typed values
            cross, cross_notes = validate(full, facts or detect_facts())
            errors.extend(cross)
            notes.extend(cross_notes)
        if errors:
            raise SpecError(errors)
        return cls(values=full, notes=notes)

    @classmethod
    def from_yaml(cls, text: str, facts: Facts | None = None) -> RunSpec:
        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise SpecError([FieldError("config", "the YAML must be a mapping of field: value")])
        return cls.from_dict(data, facts)

    @classmethod
    def from_file(cls, path: str | Path, facts: Facts | None = None) -> RunSpec:
        return cls.from_yaml(Path(path).read_text(encoding="utf-8"), facts)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def changed(self) -> dict[str, Any]:
        """Fields that differ from lrexplorer's defaults (for compact displays)."""
        base = defaults()
        return {k: v for k, v in self.values.items() if v != base[k]}

    def to_yaml(self) -> str:
        """Every field, in catalogue order: the run's config.yaml (reads back to the same spec)."""
        return yaml.safe_dump(dict(self.values), sort_keys=False, allow_unicode=True)

    # -- what the libraries receive --------------------------------------------------------------------
    @property
    def schedule_family(self) -> str:
        return get_schedule(self.values["lr_scheduler_type"]).family

    def sft_kwargs(self, use_cpu: bool) -> dict[str, Any]:
        """Keyword arguments for `trl.SFTConfig` (output_dir excluded: the caller owns the folder).

        A torch scheduler class is not a `SchedulerType`, so SFTConfig gets `constant` and the
        trainer's `CatalogueSchedulerMixin` builds the real class (see `trainer_schedule`).
        """
        kw = {p.name: self.values[p.name] for p in CATALOGUE.values() if p.target == "sft" and p.name != "output_dir"}
        kw["use_cpu"] = bool(use_cpu)
        kw["trust_remote_code"] = self.values["trust_remote_code"]
        if self.schedule_family == "torch":
            kw["lr_scheduler_type"] = "constant"
            kw["lr_scheduler_kwargs"] = {}
        if kw["run_name"] is None:
            kw.pop("run_name")
        kw.update(FIXED_SFT)
        return kw

    def trainer_schedule(self) -> tuple[str, dict[str, Any]] | None:
        """(name, kwargs) for `CatalogueSchedulerMixin.lrx_schedule`; None lets SFTConfig's type stand."""
        if self.schedule_family == "torch":
            return self.values["lr_scheduler_type"], dict(self.values["lr_scheduler_kwargs"])
        return None

    def peft_kwargs(self) -> dict[str, Any] | None:
        """`peft.LoraConfig` arguments, or None for full fine-tuning."""
        if not self.values["use_peft"]:
            return None
        return {
            "r": self.values["lora_r"],
            "lora_alpha": self.values["lora_alpha"],
            "lora_dropout": self.values["lora_dropout"],
            "target_modules": self.values["lora_target_modules"],
            "task_type": "CAUSAL_LM",
        }
