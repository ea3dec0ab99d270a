"""The arguments of a run made elsewhere, read from the JSON or YAML file saved beside its trainer_state.json.

The Trainer itself saves its arguments only as `training_args.bin`, a pickle: loading one runs whatever code
it names, so it is never read. A run's arguments reach lrexplorer as text: `TrainingArguments.to_json_string()`
saved as JSON, or the YAML config of `trl sft` (or lrexplorer's own config.yaml). Keys are matched against the
parameter catalogue (current names, TRL's YAML names, older names); each value is converted by its field, and
what does not convert, or has no field, is left out with a note. The file is bounded in size and in nodes
before anything reads it, so a YAML bomb or a huge file is refused, naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lrexplorer.catalogues.params import CATALOGUE, TRAIN, FieldError, translate
from lrexplorer.core.documents import DocumentError, load_json, load_yaml

# Names looked for beside trainer_state.json (and in the folder given), first found wins.
ARGS_FILES = (
    "training_args.json",
    "training_args.yaml",
    "training_args.yml",
    "args.json",
    "args.yaml",
    "sft.yaml",
    "sft_config.yaml",
    "config.yaml",
)
PICKLE = "training_args.bin"
MAX_ARGS_BYTES = 2**20
MAX_NODES = 100_000  # values in an arguments file (aliases are refused by the document reader)
LEFT_OUT = ("output_dir",)  # a path on the machine that trained: meaningless here


class ImportRefused(ValueError):
    """A file of the run to import that cannot be used: the message names the file and the problem."""


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (a FIFO or a device is refused before opening)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ImportRefused(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not path.is_file():
        raise ImportRefused(f"{path}: not a regular file")
    if info.st_size > limit:
        raise ImportRefused(f"{path}: {_size(info.st_size)}; at most {_size(limit)} is read")
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise ImportRefused(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise ImportRefused(f"{path}: larger than {_size(limit)}")
    return data


def _size(n: int) -> str:
    return f"{n:,} bytes" if n < 2**20 else f"{n / 2**20:.1f} MiB"


def _count_nodes(value: Any, path: Path) -> None:
    count, stack = 0, [value]
    while stack:
        item = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ImportRefused(f"{path}: more than {MAX_NODES:,} values (aliases included); not an arguments file")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def find_args(*folders: Path) -> Path | None:
    for folder in folders:
        for name in ARGS_FILES:
            if (folder / name).is_file():
                return folder / name
    return None


def load_args(path: Path) -> dict[str, Any]:
    """The file as a mapping (JSON or YAML, by its suffix), bounded; ImportRefused naming the file otherwise."""
    data = read_bounded(path, MAX_ARGS_BYTES)
    try:
        if path.suffix == ".json":
            loaded = load_json(data, MAX_ARGS_BYTES)
        else:
            loaded = load_yaml(data.decode("utf-8"), MAX_ARGS_BYTES)
    except UnicodeDecodeError:
        raise ImportRefused(f"{path}: not UTF-8 text") from None
    except DocumentError as exc:
        raise ImportRefused(f"{path}: {exc}") from None
    except ValueError as exc:  # json's own error, of a document within the bounds
        raise ImportRefused(f"{path}: not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(loaded, dict):
        raise ImportRefused(f"{path}: must be a mapping of argument: value, not a {type(loaded).__name__}")
    _count_nodes(loaded, path)
    return loaded


def catalogue_values(given: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(catalogue field -> converted value, notes on what was left out) of a run's arguments."""
    by_yaml = {p.yaml_name: p.name for p in CATALOGUE.values() if p.yaml_name != p.name}
    fields = [p.name for p in CATALOGUE.values() if TRAIN in p.tools and p.name not in LEFT_OUT]
    renamed = {by_yaml.get(str(k), str(k)): v for k, v in given.items()}
    # A catalogue field of another tool (or output_dir) is dropped; any other name may be an old one.
    wanted = {k: v for k, v in renamed.items() if (k in fields) or (k not in CATALOGUE)}
    translated, notes, unknown = translate(wanted, fields)
    out: dict[str, Any] = {}
    refused = []
    for name, value in translated.items():
        if value is None and not CATALOGUE[name].nullable:
            continue  # an argument saved as null was left at the library's default
        if name == "report_to" and isinstance(value, list) and len(value) <= 1:
            value = value[0] if value else "none"  # noqa: PLW2901 - TrainingArguments saves a list of the string
        try:
            out[name] = CATALOGUE[name].convert(value)
        except FieldError as exc:
            refused.append(exc.line)
    if refused:
        notes.append("left out, as lrexplorer's fields refuse them: " + " ".join(refused[:5]))
    if unknown:
        names = sorted(e.field for e in unknown)
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        notes.append(f"{len(names)} arguments lrexplorer has no field for were left out ({shown})")
    return out, notes
