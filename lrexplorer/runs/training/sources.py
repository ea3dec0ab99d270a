"""Where a run's model and data come from: built-in, a local path, or the Hugging Face Hub.

`check_sources` runs before anything heavy is imported and fails fast with a message naming the
field: a missing path, a Hub id while HF_HUB_OFFLINE is set and the id is not cached, or a Hub that
cannot be reached within a few seconds. The loaders then use the real `from_pretrained` and
`datasets.load_dataset`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lrexplorer.catalogues import builtin
from lrexplorer.catalogues.params import FieldError
from lrexplorer.core.documents import load_json, read_text
from lrexplorer.runs.training import probe

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
DATA_BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
PROBE_TIMEOUT_S = 5.0


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def classify(ref: str) -> str:
    """builtin, path (exists locally), missing_path (looks like a path but is not there) or hub."""
    if builtin.is_builtin(ref):
        return "builtin"
    try:
        if Path(ref).expanduser().exists():
            return "path"
    except (OSError, ValueError):  # a name too long for the file system, or a NUL byte
        return "missing_path"
    if ref.startswith((".", "/", "~")) or ref.count("/") > 1 or Path(ref).suffix in DATA_BUILDERS:
        return "missing_path"
    # The Hub caps owner and repository names at 96 characters each.
    return "hub" if HUB_ID.match(ref) and len(ref) <= 2 * 96 + 1 else "missing_path"


def check_sources(values: dict[str, Any], probe_hub: bool = True) -> list[FieldError]:
    """Problems with `model` and `dataset` that can be found without loading them."""
    errors = []
    for field, kind in (("model", "model"), ("dataset", "dataset")):
        problem = _check_ref(values[field], kind, probe_hub)
        if problem:
            errors.append(FieldError(field, problem))
    positions = _positions(values["model"]) if not errors else None
    if positions is not None and values["max_length"] is not None and values["max_length"] > positions:
        errors.append(
            FieldError(
                "max_length",
                f"must be at most the model's max_position_embeddings ({positions}); got {values['max_length']}",
            )
        )
    wanted = "load_in_4bit" if values["load_in_4bit"] else "load_in_8bit" if values["load_in_8bit"] else None
    saved = saved_quantization(values) if wanted and not errors else None
    if wanted and saved:
        errors.append(
            FieldError(
                wanted,
                f"{values['model']!r} is saved already quantized ({saved}), so bitsandbytes cannot quantize it "
                "again; turn it off (the model loads in its saved format) or pick an unquantized model",
            )
        )
    return errors


def _positions(ref: str) -> int | None:
    """max_position_embeddings of a built-in or local model, when its config says it."""
    if builtin.is_builtin(ref):
        config = builtin.BUILTIN_MODELS.get(builtin.builtin_name(ref), {})
    else:
        try:
            config = load_json(read_text(Path(ref).expanduser() / "config.json"))
        except (OSError, ValueError):  # not a local folder (a Hub id), or already reported by the probe
            return None
    positions = config.get("max_position_embeddings") if isinstance(config, dict) else None
    return positions if isinstance(positions, int) and not isinstance(positions, bool) else None


def _check_ref(ref: str, kind: str, probe_hub: bool) -> str | None:
    if not ref.strip():
        return f"is empty; give builtin:NAME, a local {'folder' if kind == 'model' else 'file or folder'} or a Hub id"
    how = classify(ref)
    if how == "builtin":
        name = builtin.builtin_name(ref)
        known = sorted(builtin.BUILTIN_MODELS) if kind == "model" else builtin.builtin_datasets()
        if name not in known:
            return f"unknown built-in {kind} {ref!r}; built-in: " + ", ".join(builtin.PREFIX + k for k in known)
        return None
    if how == "path":
        path = Path(ref).expanduser()
        if kind == "model" and path.is_dir() and not (path / "config.json").is_file():
            return f"{ref!r} is a folder without config.json, not a model saved with save_pretrained"
        if kind == "model" and path.is_dir():
            return probe.model_folder_problem(path)
        if kind == "dataset" and path.is_file():
            if path.suffix not in DATA_BUILDERS:
                return f"{ref!r}: unsupported file type {path.suffix!r}; use JSONL, JSON, CSV or Parquet"
            return probe.data_file_problem(path)
        return None
    if how == "missing_path":
        return f"no such file or folder: {ref[:200]!r}"
    return _check_hub(ref, kind, probe_hub)


def _check_hub(repo_id: str, kind: str, probe: bool) -> str | None:
    from huggingface_hub import constants

    cached = Path(constants.HF_HUB_CACHE) / f"{kind}s--{repo_id.replace('/', '--')}"
    if cached.is_dir():
        return None
    if hub_offline():
        return (
            f"{repo_id!r} is not a local path and not in the Hugging Face cache, and HF_HUB_OFFLINE is set; "
            "give a local folder or file, or go online"
        )
    if not probe:
        return None
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        HfApi().repo_info(repo_id, repo_type=kind, timeout=PROBE_TIMEOUT_S)
    except RepositoryNotFoundError:
        return f"{repo_id!r} was not found on the Hugging Face Hub (or it is private and you are not logged in)"
    except Exception as exc:  # noqa: BLE001 - any network failure means the same to the user
        return f"cannot reach the Hugging Face Hub to fetch {repo_id!r} ({type(exc).__name__}); check the connection or use a local path"
    return None


# -- loaders (heavy imports inside) ---------------------------------------------------------------------
def load_tokenizer(values: dict[str, Any]) -> Any:
    if builtin.is_builtin(values["model"]):
        return builtin.load_tokenizer()
    from transformers import AutoTokenizer

    with _translated("model", values["model"]):
        return AutoTokenizer.from_pretrained(
            _local_or_id(values["model"]), trust_remote_code=values["trust_remote_code"]
        )


def torch_dtype(name: str) -> Any:
    import torch

    return "auto" if name == "auto" else getattr(torch, name)


def load_model(values: dict[str, Any], tokenizer: Any, attn: str, base_dir: Path | None = None) -> Any:
    """The model to fine-tune, loaded with attention implementation `attn` (quantized by bitsandbytes when
    load_in_4bit / load_in_8bit ask for it). A built-in model is created from its config; with `base_dir`
    (or when it must be quantized, which only `from_pretrained` does) its initial weights are saved there
    first and loaded back, so a LoRA run's adapter_config.json names a base model that exists on disk."""
    import tempfile

    from lrexplorer.runs.spec import quantization_kwargs

    ref = values["model"]
    quant = quantization_kwargs(values)
    if builtin.is_builtin(ref):
        dtype = None if values["dtype"] in ("auto", "float32") else torch_dtype(values["dtype"])
        model = builtin.make_model(builtin.builtin_name(ref), tokenizer, values["seed"], attn, dtype)
        if quant is None and base_dir is None:
            return model
        if base_dir is None:
            with tempfile.TemporaryDirectory(prefix="lrx-base-") as tmp:
                model.save_pretrained(tmp)
                return _from_pretrained(tmp, values, attn, quant)
        if not (base_dir / "config.json").is_file():  # a resumed run keeps the base it started from
            model.save_pretrained(str(base_dir))
            tokenizer.save_pretrained(str(base_dir))
        return _from_pretrained(str(base_dir), values, attn, quant)
    return _from_pretrained(_local_or_id(ref), values, attn, quant)


def _from_pretrained(path: str, values: dict[str, Any], attn: str, quant: dict[str, Any] | None) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig, set_seed

    extra: dict[str, Any] = {}
    if quant is not None:
        on_gpu = torch.cuda.is_available() and not values["use_cpu"]
        # bitsandbytes quantizes while loading onto the device; one process, one device, as TRL's kbit map.
        extra = {
            "quantization_config": BitsAndBytesConfig(**quant),
            "device_map": {"": torch.cuda.current_device()} if on_gpu else "cpu",
        }
    set_seed(values["seed"])  # heads missing from the checkpoint are initialised from the seed
    with _translated("model", values["model"]):
        return AutoModelForCausalLM.from_pretrained(
            path,
            dtype=torch_dtype(values["dtype"]),
            attn_implementation=attn,
            trust_remote_code=values["trust_remote_code"],
            **extra,
        )


def saved_quantization(values: dict[str, Any]) -> str | None:
    """The quant_method of a local or cached model whose saved weights are already quantized, else None."""

    ref = values["model"]
    how = classify(ref)
    if how == "path":
        configs = [Path(ref).expanduser() / "config.json"]
    elif how == "hub":
        from huggingface_hub import constants

        snapshots = Path(constants.HF_HUB_CACHE) / f"models--{ref.replace('/', '--')}" / "snapshots"
        configs = sorted(snapshots.glob("*/config.json")) if snapshots.is_dir() else []
    else:
        return None
    for path in configs:
        try:
            quant = load_json(read_text(path)).get("quantization_config")
        except (OSError, ValueError, AttributeError):
            continue
        if quant:
            return str(quant.get("quant_method", "quantized") if isinstance(quant, dict) else "quantized")
    return None


def load_splits(values: dict[str, Any]) -> tuple[Any, Any]:
    """(train, eval) datasets; eval is None unless eval_strategy asks for evaluation."""
    ref = values["dataset"]
    with _translated("dataset", ref):
        loaded = _load_dataset(values)
    want = [values["dataset_train_split"]] + ([values["dataset_test_split"]] if values["eval_strategy"] != "no" else [])
    for field, split in zip(("dataset_train_split", "dataset_test_split"), want):
        if split not in loaded:
            raise FieldError(field, f"{ref!r} has no split {split!r}; it has {', '.join(loaded)}")
    train = loaded[want[0]]
    with _translated("dataset", ref):
        _check_columns(train, ref)
    return train, (loaded[want[1]] if len(want) > 1 else None)


def _load_dataset(values: dict[str, Any]) -> Any:
    import datasets

    ref = values["dataset"]
    streaming = values["dataset_streaming"]
    if builtin.is_builtin(ref):
        loaded = datasets.load_dataset(
            "json", data_files=builtin.dataset_files(builtin.builtin_name(ref)), streaming=streaming
        )
    elif Path(ref).expanduser().is_file():
        path = Path(ref).expanduser()
        loaded = datasets.load_dataset(
            DATA_BUILDERS[path.suffix], data_files={values["dataset_train_split"]: str(path)}, streaming=streaming
        )
    else:
        loaded = datasets.load_dataset(_local_or_id(ref), name=values["dataset_config"], streaming=streaming)
    return loaded


def _check_columns(ds: Any, ref: str) -> None:
    cols = set(ds.column_names or [])
    if not cols:  # a stream may not know its columns before the first row
        first = next(iter(ds), None)
        cols = set(first.keys()) if first is not None else set()
    if not cols or getattr(ds, "num_rows", None) == 0:
        raise FieldError("dataset", f"{ref!r} holds no rows")
    problem = probe.column_problem(cols, repr(ref))
    if problem:
        raise FieldError("dataset", problem)


@contextmanager
def _translated(field: str, ref: str) -> Iterator[None]:
    """A loader's failure as a FieldError naming the field and the source, the library's words after it."""
    try:
        yield
    except FieldError:
        raise
    except Exception as exc:  # datasets and transformers raise dozens of types for a bad source
        words = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else "no message"
        what = "model or tokenizer" if field == "model" else "dataset"
        raise FieldError(field, f"cannot load {ref!r} as a {what}: {type(exc).__name__}: {words}") from exc


def _local_or_id(ref: str) -> str:
    path = Path(ref).expanduser()
    return str(path) if path.exists() else ref
