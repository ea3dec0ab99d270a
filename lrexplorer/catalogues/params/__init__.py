"""The parameter catalogue: every argument any front end of lrexplorer takes, as data.

One `Field` per argument, named exactly as `TrainingArguments` / TRL's `SFTConfig` (or TRL's
`ModelConfig` and `ScriptArguments` for the model, LoRA and dataset fields) name it; the few that only
lrexplorer's estimates take (num_examples, world_size, num_gpus, zero_stage, ...) use the names of
the tools that define them. Each field says which tools take it (`tools`: train, schedule, memory)
and, in one place, where a tool starts from another default (`tool_defaults`). The Train form, the
Memory and Schedules forms, the flags of every CLI command, validation, the YAML / Python exports and
the Guide are all generated from `CATALOGUE`; adding a field is one entry in the module of its group.
`RENAMED` maps names that older transformers/TRL releases (and the training notes) used to their
current spelling, for every front end. Nothing here imports torch.

One module per group: `model_data`, `training` (optimisation and the schedule), `memory` (memory, precision
and speed), `distributed` (processes and sharding), `logging_saving`; `generation` (the batch and lengths of a
generation-memory estimate, in the memory group); and `renamed` for the old names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrexplorer.catalogues.params.distributed import DISTRIBUTED, legacy_fsdp
from lrexplorer.catalogues.params.generation import GENERATION_FIELDS
from lrexplorer.catalogues.params.logging_saving import LOGGING_SAVING
from lrexplorer.catalogues.params.memory import MEMORY_FIELDS, PRECISION
from lrexplorer.catalogues.params.model_data import MODEL_DATA
from lrexplorer.catalogues.params.renamed import RENAMED, RENAMED_BY_OLD, Renamed, renamed_from, translate
from lrexplorer.catalogues.params.training import OPTIMISATION, SCHEDULE_FIELDS
from lrexplorer.core.fields import SAME, Field, FieldError
from lrexplorer.core.groups import CONCEPTS, GROUPS, MEMORY, SCHEDULE, TOOLS, TRAIN

CATALOGUE_LIST: tuple[Field, ...] = (
    *MODEL_DATA,
    *OPTIMISATION,
    *SCHEDULE_FIELDS,
    *MEMORY_FIELDS,
    *GENERATION_FIELDS,
    *PRECISION,
    *DISTRIBUTED,
    *LOGGING_SAVING,
)
CATALOGUE: dict[str, Field] = {p.name: p for p in CATALOGUE_LIST}

__all__ = [
    "CATALOGUE",
    "CATALOGUE_LIST",
    "CONCEPTS",
    "GROUPS",
    "MEMORY",
    "RENAMED",
    "RENAMED_BY_OLD",
    "SAME",
    "SCHEDULE",
    "TOOLS",
    "TRAIN",
    "Field",
    "FieldError",
    "Renamed",
    "by_group",
    "convert_each",
    "defaults",
    "fields_for",
    "renamed_for",
    "renamed_from",
    "resolve",
    "translate",
]


def convert_each(given: Mapping[str, Any]) -> dict[str, Any]:
    """Each value converted by its catalogue field; one FieldError listing every value refused."""
    out, errors = {}, []
    for name, value in given.items():
        try:
            out[name] = CATALOGUE[name].convert(value)
        except FieldError as exc:
            errors.append(exc)
    if errors:
        raise FieldError.collect(errors)
    return out


def fields_for(tool: str | None = TRAIN) -> list[Field]:
    """The fields `tool` takes, in catalogue order (every field for None)."""
    return [p for p in CATALOGUE_LIST if tool is None or tool in p.tools]


def defaults(tool: str = TRAIN) -> dict[str, Any]:
    """The value each field of `tool` starts from (fresh copies, so callers may mutate them)."""
    return {p.name: p.default_for(tool) for p in fields_for(tool)}


def by_group(tool: str | None = TRAIN) -> dict[str, list[Field]]:
    """Every group, with the fields of `tool` it holds (every field for None)."""
    out: dict[str, list[Field]] = {g: [] for g in GROUPS}
    for p in fields_for(tool):
        out[p.group].append(p)
    return out


def renamed_for(tool: str) -> list[Renamed]:
    """The old names a front end of `tool` accepts: those of its fields, and removed training arguments."""
    return [
        r
        for r in RENAMED
        if (r.new is None and tool == TRAIN) or (r.new is not None and tool in CATALOGUE[r.new].tools)
    ]


def resolve(given: Mapping[str, Any], tool: str = TRAIN) -> tuple[dict[str, Any], list[str]]:
    """(every field of `tool`, notes): the given values, old names translated and each converted by its
    field, over the tool's defaults. Raises one FieldError listing every problem found."""
    legacy, notes, errors = legacy_fsdp(given, tool == TRAIN)
    translated, renamed_notes, renamed_errors = translate(legacy, CATALOGUE)
    notes, errors = notes + renamed_notes, errors + renamed_errors
    values = defaults(tool)
    for name, value in translated.items():
        field = CATALOGUE[name]
        if tool not in field.tools:
            errors.append(FieldError(name, f"is not an argument of {tool} (it is one of {', '.join(field.tools)})"))
            continue
        try:
            values[name] = field.convert(value)
        except FieldError as exc:
            errors.append(exc)
    if errors:
        raise FieldError.collect(errors)
    return values, notes
