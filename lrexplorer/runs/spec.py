"""The run specification: one validated value per training field, the object launch and export share.

`RunSpec.from_dict` takes what a form, a YAML file or CLI flags gave (old names such as warmup_ratio
are translated, with a note), fills lrexplorer's defaults from the catalogue, converts types and
runs every field and the rules of `lrexplorer.rules`; one FieldError lists every problem. Everything that starts or
exports a run reads a `RunSpec`: `sft_kwargs` is the exact keyword set given to `SFTConfig` by the
worker and written into the exported script and YAML, so a preview can never differ from what runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lrexplorer.catalogues.params import TRAIN, FieldError, defaults, fields_for, resolve
from lrexplorer.core.facts import Facts, detect_facts
from lrexplorer.rules.registry import refuse
from lrexplorer.rules.rule import Finding, Subject
from lrexplorer.schedules import get_schedule

# SFTConfig fields lrexplorer always sets, whatever the spec: the run folder is the record, so
# trainer-side extras stay off. They are written into exports too, so a script behaves the same.
FIXED_SFT = {"save_only_model": False}


@dataclass
class RunSpec:
    """A validated run: `values` holds every catalogue field (defaults filled in); `renamed` says which old
    names were read under their new ones, `advice` what the rules advise about the values on this machine."""

    values: dict[str, Any]
    renamed: list[str] = field(default_factory=list)
    advice: list[Finding] = field(default_factory=list)

    @classmethod
    def from_dict(cls, given: Mapping[str, Any] | None = None, facts: Facts | None = None) -> RunSpec:
        """Raises one FieldError listing every problem: each field's first, then the refusals of the rules
        (`lrexplorer.rules`)."""
        full, renamed = resolve(dict(given or {}), TRAIN)
        advice = refuse(Subject(TRAIN, full, facts or detect_facts()))
        return cls(values=full, renamed=renamed, advice=advice)

    @property
    def notes(self) -> list[str]:
        """Every note about the spec, in words: the old names read, then the rules' advice."""
        return self.renamed + [a.text for a in self.advice]

    @classmethod
    def from_yaml(cls, text: str, facts: Facts | None = None) -> RunSpec:
        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise FieldError("config", "the YAML must be a mapping of field: value")
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
        kw = {p.name: self.values[p.name] for p in fields_for(TRAIN) if p.target == "sft" and p.name != "output_dir"}
        kw["use_cpu"] = bool(use_cpu)
        kw["trust_remote_code"] = self.values["trust_remote_code"]
        if self.schedule_family == "torch":
            kw["lr_scheduler_type"] = "constant"
            kw["lr_scheduler_kwargs"] = {}
        if kw["run_name"] is None:
            kw.pop("run_name")
        kw.update(FIXED_SFT)
        kw.update(self.sharding_kwargs())
        return kw

    def sharding_kwargs(self) -> dict[str, Any]:
        """fsdp / fsdp_config / deepspeed as transformers 5 takes them: fsdp a switch with FSDP2's settings
        in fsdp_config, deepspeed the config dict of the chosen ZeRO preset (None where off)."""
        from lrexplorer.runs.training.distributed import zero_config

        fsdp = self.values["fsdp"]
        config = {k.removeprefix("fsdp_"): v for k, v in self.values["fsdp_config"].items()}
        preset = self.values["deepspeed"]
        return {
            "fsdp": True if fsdp else None,
            "fsdp_config": {"version": 2, **config} if fsdp else None,
            "deepspeed": zero_config(preset) if preset else None,
        }

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
            "use_rslora": self.values["use_rslora"],
            "use_dora": self.values["use_dora"],
            "bias": "none",
            "task_type": "CAUSAL_LM",
        }

    def quantization_kwargs(self) -> dict[str, Any] | None:
        return quantization_kwargs(self.values)


def quantization_kwargs(values: Mapping[str, Any]) -> dict[str, Any] | None:
    """`transformers.BitsAndBytesConfig` arguments (as TRL's `get_quantization_config` builds them, with the
    compute dtype from bnb_4bit_compute_dtype), or None when the base weights are not quantized."""
    if values["load_in_4bit"]:
        return {
            "load_in_4bit": True,
            "bnb_4bit_quant_type": values["bnb_4bit_quant_type"],
            "bnb_4bit_compute_dtype": values["bnb_4bit_compute_dtype"],
            "bnb_4bit_use_double_quant": values["bnb_4bit_use_double_quant"],
        }
    if values["load_in_8bit"]:
        return {"load_in_8bit": True}
    return None
