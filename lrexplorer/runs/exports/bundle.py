"""The complete export: train.py, accelerate.sh, sft.yaml (when `trl sft` can express the spec), the
files they need and a README, in one folder that runs wherever it is unzipped.

What the bundle holds (the built-in tokenizer and data, the built-in model's initial weights) is named by
a path relative to the bundle: train.py resolves it against its own folder, sft.yaml and accelerate.sh
run inside the folder. What it does not hold (a Hub id, a local folder or file the user gave) is named
as given, and the README says which is which.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from lrexplorer.catalogues import builtin
from lrexplorer.core.facts import Facts, detect_facts
from lrexplorer.core.version import __version__
from lrexplorer.rules.attention import resolve_attention
from lrexplorer.runs.exports.cluster import Cluster, write_cluster_files
from lrexplorer.runs.exports.script import (
    ACCELERATE,
    SCRIPT,
    TRL_YAML,
    accelerate_command,
    output_dir,
    python_script,
    trl_yaml,
    trl_yaml_problem,
)
from lrexplorer.runs.spec import RunSpec
from lrexplorer.runs.training import sources

README = "README.md"
INITIAL_MODEL = "initial_model"
PACKAGES = ("torch", "transformers", "trl", "datasets", "accelerate")


def write_bundle(spec: RunSpec, dest: Path, facts: Facts | None = None, cluster: Cluster | None = None) -> list[Path]:
    """Write the bundle into `dest` (created if needed); returns the top-level entries written. With a
    `cluster` of several machines, accelerate.sh, accelerate_config.yaml and slurm.sbatch launch on all."""
    facts = facts or detect_facts()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written = _copy_assets(spec, dest)
    (dest / SCRIPT).write_text(python_script(spec, facts), encoding="utf-8")
    # cd first: the script argument and the default output folder are relative to the bundle.
    (dest / ACCELERATE).write_text(
        '#!/bin/sh\ncd "$(dirname "$0")"\n' + accelerate_command(spec, facts=facts, cluster=cluster) + "\n",
        encoding="utf-8",
    )
    (dest / ACCELERATE).chmod(0o755)
    written += [dest / SCRIPT, dest / ACCELERATE]
    written += write_cluster_files(spec, dest, facts, cluster or Cluster(), SCRIPT, output_dir(spec))
    if trl_yaml_problem(spec) is None:
        model_path = None
        if builtin.is_builtin(spec["model"]):
            model_path = INITIAL_MODEL
            _save_initial_model(spec, dest / INITIAL_MODEL, facts)
            written.append(dest / INITIAL_MODEL)
        (dest / TRL_YAML).write_text(trl_yaml(spec, model_path, facts), encoding="utf-8")
        written.append(dest / TRL_YAML)
    (dest / README).write_text(readme(spec), encoding="utf-8")
    written.append(dest / README)
    return written


def zip_bundle(spec: RunSpec, name: str, facts: Facts | None = None) -> bytes:
    """The bundle as a zip whose entries all sit under `name/`."""
    with tempfile.TemporaryDirectory(prefix="lrx-bundle-") as tmp:
        write_bundle(spec, Path(tmp) / name, facts)
        return zip_folder(Path(tmp))


def zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder))
    return buffer.getvalue()


def _copy_assets(spec: RunSpec, dest: Path) -> list[Path]:
    """Only the built-in files this spec uses: the tokenizer for the built-in model, one dataset's folder."""
    copies = []
    if builtin.is_builtin(spec["model"]):
        copies.append((builtin.TOKENIZER_DIR, dest / "assets" / "tokenizer"))
    if builtin.is_builtin(spec["dataset"]):
        name = builtin.builtin_name(spec["dataset"])
        copies.append((builtin.DATASETS_DIR / name, dest / "assets" / "datasets" / name))
    for source, target in copies:
        shutil.copytree(source, target, dirs_exist_ok=True)
    return [dest / "assets"] if copies else []


def _save_initial_model(spec: RunSpec, path: Path, facts: Facts) -> None:
    """The built-in model's initial weights (same config and seed as the run), unquantized: trl sft
    quantizes while loading when sft.yaml asks for it."""
    tokenizer = builtin.load_tokenizer()
    values = dict(spec.values, load_in_4bit=False, load_in_8bit=False)
    model = sources.load_model(values, tokenizer, resolve_attention(spec.values, facts))
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))


def _source_line(field: str, ref: str, spec: RunSpec) -> str:
    shown = json.dumps(ref)  # one line, whatever the string holds
    kind = sources.classify(ref)
    if kind == "builtin" and field == "model":
        return (
            f"- model {shown}: lrexplorer's built-in Llama, made from its config with seed {spec['seed']}. train.py "
            f"rebuilds it with the tokenizer in `assets/tokenizer/`; `{INITIAL_MODEL}/` holds the same initial "
            "weights for trl sft."
        )
    if kind == "builtin":
        return f"- dataset {shown}: the files in `assets/datasets/{builtin.builtin_name(ref)}/` (train and test JSONL)."
    if kind == "hub":
        return f"- {field} {shown}: a Hugging Face Hub id, downloaded on the first run (network or HF cache needed)."
    where = "your local path" if kind == "path" else "the path the run was given (not found when exporting)"
    return (
        f"- {field} {shown}: {where}, used where it is and not copied into the bundle. On another machine, put it "
        f"at the same path or edit the path in {SCRIPT} and {TRL_YAML}."
    )


def readme(spec: RunSpec) -> str:
    problem = trl_yaml_problem(spec)
    yaml_row = (
        f"| `trl sft --config {TRL_YAML}` | the same arguments through TRL's own command line |"
        if problem is None
        else f"| (no {TRL_YAML}) | {problem} |"
    )
    extra = [p for p, used in (("peft", spec["use_peft"]), ("bitsandbytes", spec.quantization_kwargs())) if used]
    versions = " ".join(f"{name}=={_version(name)}" for name in (*PACKAGES, *extra))
    return f"""# Fine-tuning exported by lrexplorer {__version__}

Unzip anywhere, then run inside the unzipped folder:

| command | runs |
| --- | --- |
| `python {SCRIPT}` | the fine-tune with transformers and TRL; it finds its files next to itself, so any working directory does |
| `sh {ACCELERATE}` | {SCRIPT} through `accelerate launch` (raise `--num_processes` for more GPUs) |
{yaml_row}

Output: `{output_dir(spec)}/` (trainer_state.json with every logged loss and learning rate, and the final
model). `python {SCRIPT} OTHER_FOLDER` writes elsewhere.

## Model and data

{_source_line("model", spec["model"], spec)}
{_source_line("dataset", spec["dataset"], spec)}

## Requirements

Exported with: `pip install {versions}`. Nothing from lrexplorer is needed.
"""


def _version(package: str) -> str:
    try:
        return metadata.version(package).split("+")[0]  # torch's local tag (+cpu, +cu128) is not on PyPI
    except metadata.PackageNotFoundError:
        return "?"
