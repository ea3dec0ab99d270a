"""Export a run spec as (a) a standalone transformers/TRL script, (b) a YAML for `trl sft --config`,
(c) the `accelerate launch` command line.

All three are generated from the same `RunSpec` the launcher starts: the SFTConfig keywords are
`spec.sft_kwargs(...)` verbatim, the attention implementation and device are resolved by the same
functions as in the worker, and the built-in model is rebuilt from the same config and seed. A torch
scheduler class is not something `trl sft` can name, so (b) refuses it; the script embeds the very
warmup wrapper the worker uses (`schedules/warmup.py`, copied whole). `bundle.write_bundle` puts the
three in one folder with the files they need.
"""

from __future__ import annotations

import json
import pprint
import shlex
from pathlib import Path
from typing import Any

import yaml

from lrexplorer.catalogues import builtin
from lrexplorer.core.facts import Facts, detect_facts
from lrexplorer.core.version import __version__
from lrexplorer.rules.attention import resolve_attention
from lrexplorer.runs.exports.cluster import Cluster, launch_flags
from lrexplorer.runs.folder import store
from lrexplorer.runs.spec import RunSpec
from lrexplorer.runs.steps import plan_steps
from lrexplorer.runs.training import sources
from lrexplorer.schedules import get_schedule

SCRIPT, TRL_YAML, ACCELERATE = "train.py", "sft.yaml", "accelerate.sh"


class ExportError(ValueError):
    pass


def output_dir(spec: RunSpec) -> str:
    """Where an export writes: the spec's output_dir, unless that folder already holds a run (exporting
    a finished run must not write over it), then `sft-output` next to the script."""
    target = spec["output_dir"]
    if not target or store.is_run(Path(target)):
        return "sft-output"
    return target


def _lit(value: Any) -> str:
    return pprint.pformat(value, indent=4, width=100, sort_dicts=False)


def resolved_torch_kwargs(spec: RunSpec) -> dict[str, Any]:
    """A torch scheduler's kwargs with the defaults that depend on the run length filled in, as the
    worker's `build_scheduler` fills them; the run length comes from max_steps or the data file."""
    name, given = spec["lr_scheduler_type"], dict(spec["lr_scheduler_kwargs"])
    schedule = get_schedule(name)
    if all(p.name in given or p.derived is None or p.default is not None for p in schedule.params):
        return schedule.resolve(given, 1)
    plan = plan_steps(
        num_examples=None if spec["max_steps"] > 0 else _count_examples(spec),
        per_device_train_batch_size=spec["per_device_train_batch_size"],
        gradient_accumulation_steps=spec["gradient_accumulation_steps"],
        num_train_epochs=spec["num_train_epochs"],
        max_steps=spec["max_steps"],
        warmup_steps=spec["warmup_steps"],
        world_size=spec["num_processes"],
    )
    return schedule.resolve(given, max(1, plan.total_steps - plan.warmup_steps))


def _count_examples(spec: RunSpec) -> int:
    """The sequences the Trainer will batch (TRL's preparation of the rows: packing, dropped rows)."""
    from lrexplorer.runs.sequences import count_sequences

    count = count_sequences(spec.values, max_bytes=None)
    if count.problem is not None:
        raise ExportError(str(count.problem))
    if count.sequences is None:
        raise ExportError(
            f"{spec['lr_scheduler_type']} derives its arguments from the run length, and {count.how}; set "
            "max_steps or give every scheduler argument in lr_scheduler_kwargs to export this spec"
        )
    return count.sequences


def _data_code(spec: RunSpec) -> str:
    ref, streaming = spec["dataset"], spec["dataset_streaming"]
    if builtin.is_builtin(ref):
        name = builtin.builtin_name(ref)
        bundled = ", ".join(f"{s!r}: str(ASSETS / 'datasets' / {name!r} / '{s}.jsonl')" for s in ("train", "test"))
        return f"loaded = datasets.load_dataset('json', data_files={{{bundled}}}, streaming={streaming})"
    path = Path(ref).expanduser()
    if path.is_file():
        builder = sources.DATA_BUILDERS[path.suffix]
        files = {spec["dataset_train_split"]: str(path.resolve())}
        return f"loaded = datasets.load_dataset({builder!r}, data_files={files!r}, streaming={streaming})"
    target = str(path.resolve()) if path.exists() else ref
    return f"loaded = datasets.load_dataset({target!r}, name={spec['dataset_config']!r}, streaming={streaming})"


def _model_code(spec: RunSpec, attn: str) -> str:
    ref, seed = spec["model"], spec["seed"]
    dtype = "'auto'" if spec["dtype"] == "auto" else f"torch.{spec['dtype']}"
    quantized = spec.quantization_kwargs() is not None
    quant = ", quantization_config=BitsAndBytesConfig(**QUANT_ARGS), device_map=DEVICE_MAP" if quantized else ""
    if builtin.is_builtin(ref):
        dims = builtin.BUILTIN_MODELS[builtin.builtin_name(ref)]
        cast = "" if spec["dtype"] in ("auto", "float32") else f"\nmodel = model.to(torch.{spec['dtype']})"
        code = (
            f"# {ref!r}: a small Llama made from a config (no weights to download); the seed fixes its weights.\n"
            "tokenizer = AutoTokenizer.from_pretrained(str(ASSETS / 'tokenizer'))\n"
            f"config = LlamaConfig(**{_lit(dims)},\n    vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,\n"
            f"    eos_token_id=tokenizer.eos_token_id, bos_token_id=None)\n"
            f"config._attn_implementation = {attn!r}\nset_seed({seed})\nmodel = LlamaForCausalLM(config){cast}"
        )
        if quantized:
            code += (
                "\n# bitsandbytes quantizes while loading, so the initial weights go through a folder, as in the run.\n"
                "model.save_pretrained(os.path.join(OUTPUT_DIR, 'base_model'))\n"
                f"model = AutoModelForCausalLM.from_pretrained(os.path.join(OUTPUT_DIR, 'base_model'), dtype={dtype}, "
                f"attn_implementation={attn!r}{quant})"
            )
    else:
        path = Path(ref).expanduser()
        target = str(path.resolve()) if path.exists() else ref
        trust = spec["trust_remote_code"]
        code = (
            f"tokenizer = AutoTokenizer.from_pretrained({target!r}, trust_remote_code={trust})\nset_seed({seed})\n"
            f"model = AutoModelForCausalLM.from_pretrained({target!r}, dtype={dtype}, attn_implementation={attn!r}, "
            f"trust_remote_code={trust}{quant})"
        )
    if quantized:
        code += (
            "\nmodel = prepare_model_for_kbit_training(model, "
            f"use_gradient_checkpointing={spec['activation_checkpointing']}, "
            f"gradient_checkpointing_kwargs={spec['activation_checkpointing_kwargs']!r})"
        )
    return code


def _quant_code(spec: RunSpec) -> str:
    """The BitsAndBytesConfig arguments and device map of a quantized base, as the worker builds them."""
    quant = spec.quantization_kwargs()
    if quant is None:
        return ""
    return (
        f"QUANT_ARGS = {_lit(quant)}\n"
        "# One device per process, as TRL's get_kbit_device_map: bitsandbytes quantizes onto it while loading.\n"
        "DEVICE_MAP = {'': PartialState().local_process_index} if torch.cuda.is_available() "
        "and not SFT_ARGS['use_cpu'] else 'cpu'\n"
    )


def _scheduler_code(spec: RunSpec) -> tuple[str, str]:
    """(definitions, trainer class name) for a torch scheduler class; ('', 'SFTTrainer') otherwise."""
    if spec.schedule_family != "torch":
        return "", "SFTTrainer"
    from lrexplorer.schedules import warmup

    name = spec["lr_scheduler_type"]
    # Arguments that follow learning_rate (CyclicLR, OneCycleLR max_lr) are filled as the worker's builder fills them.
    kwargs = get_schedule(name).with_lr(resolved_torch_kwargs(spec), spec["learning_rate"])
    # The worker's warmup module, file and all: it imports nothing from lrexplorer, so it runs as it is.
    source = Path(warmup.__file__).read_text(encoding="utf-8")
    definitions = (
        f"SCHEDULER_KWARGS = {_lit(kwargs)}\n\n\n"
        f"# ---- lrexplorer/schedules/warmup.py, verbatim ----\n{source}# ---- end of warmup.py ----\n\n\n"
        "class ScheduledSFTTrainer(SFTTrainer):\n"
        f'    """Steps torch.optim.lr_scheduler.{name} after a linear warmup of args.warmup_steps updates."""\n\n'
        "    def create_scheduler(self, num_training_steps, optimizer=None):\n"
        "        if self.lr_scheduler is None:\n"
        "            optimizer = optimizer or self.optimizer\n"
        "            warmup = self.args.get_warmup_steps(num_training_steps)\n"
        f"            make = lambda opt: torch.optim.lr_scheduler.{name}(opt, **SCHEDULER_KWARGS)\n"
        "            self.lr_scheduler = LinearWarmupThen(optimizer, warmup, make) if warmup > 0 else make(optimizer)\n"
        "            self._created_lr_scheduler = True\n"
        "        return self.lr_scheduler\n"
    )
    return definitions, "ScheduledSFTTrainer"


def uses_assets(spec: RunSpec) -> bool:
    """Whether the spec's model or data are built in, so the script needs the bundle's assets/ folder."""
    return builtin.is_builtin(spec["model"]) or builtin.is_builtin(spec["dataset"])


def _assets_code(spec: RunSpec) -> str:
    if not uses_assets(spec):
        return ""
    return (
        "# The built-in tokenizer and data ship in the bundle's assets/ folder, next to this script.\n"
        "ASSETS = HERE / 'assets'\n"
        "if not ASSETS.is_dir():\n"
        "    sys.exit(f'{ASSETS} is missing: this script needs the assets/ folder of the complete bundle '\n"
        "             '(lrexplorer runs export, or the Runs page); keep it next to the script')\n"
    )


def python_script(spec: RunSpec, facts: Facts | None = None) -> str:
    """(a) A script that reruns this spec with transformers + TRL only: `python train.py [OUTPUT_DIR]`.
    Its own files (the built-in assets, the default output folder) are found next to the script, so it
    runs from any working directory; a model or data path the user gave stays as given."""
    facts = facts or detect_facts()
    attn = resolve_attention(spec.values, facts)
    sft = spec.sft_kwargs(use_cpu=facts.on_cpu(spec["use_cpu"]))
    peft = spec.peft_kwargs()
    definitions, trainer_cls = _scheduler_code(spec)
    evaluate = spec["eval_strategy"] != "no"
    return f'''#!/usr/bin/env python
"""Supervised fine-tuning exported by lrexplorer {__version__} (model and data: MODEL and DATASET below).

Run: python {SCRIPT} [OUTPUT_DIR]   (or through accelerate launch, see {ACCELERATE}).{_needs_bundle(spec)}
Needs torch, transformers, trl, datasets{", peft" if peft else ""}{", bitsandbytes" if spec.quantization_kwargs() else ""}; nothing from lrexplorer.
"""
import os
import sys
from pathlib import Path

import datasets
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM, set_seed
from trl import SFTConfig, SFTTrainer
{"from peft import LoraConfig" if peft else ""}{_quant_imports(spec)}
# Every user-given string below is a Python literal (repr), never code.
MODEL = {spec["model"]!r}
DATASET = {spec["dataset"]!r}
HERE = Path(__file__).resolve().parent
# An OUTPUT_DIR argument is relative to where you run from; the default lives next to this script.
OUTPUT_DIR = sys.argv[1] if len(sys.argv) > 1 else str(HERE / {output_dir(spec)!r})
{_assets_code(spec)}
# Exactly the SFTConfig arguments lrexplorer passes (attention {attn!r} resolved for this machine).
SFT_ARGS = {_lit(sft)}
{f"PEFT_ARGS = {_lit(peft)}" if peft else ""}
{_quant_code(spec)}{definitions}
{_model_code(spec, attn)}

{_data_code(spec)}
train_dataset = loaded[{spec["dataset_train_split"]!r}]
eval_dataset = loaded[{spec["dataset_test_split"]!r}] if {evaluate} else None

trainer = {trainer_cls}(
    model=model, args=SFTConfig(output_dir=OUTPUT_DIR, **SFT_ARGS), train_dataset=train_dataset,
    eval_dataset=eval_dataset, processing_class=tokenizer, peft_config={"LoraConfig(**PEFT_ARGS)" if peft else "None"},
)
trainer.train()
trainer.save_state()  # trainer_state.json: every logged loss and learning rate
trainer.save_model(os.path.join(OUTPUT_DIR, "final_model"))
'''


def _needs_bundle(spec: RunSpec) -> str:
    if not uses_assets(spec):
        return ""
    return "\nThe built-in model and data come from the assets/ folder of the complete bundle, next to this script."


def _quant_imports(spec: RunSpec) -> str:
    if spec.quantization_kwargs() is None:
        return ""
    return (
        "\nfrom accelerate import PartialState\nfrom peft import prepare_model_for_kbit_training\n"
        "from transformers import BitsAndBytesConfig"
    )


def trl_yaml_problem(spec: RunSpec) -> str | None:
    """Why `trl sft` cannot run this spec as it is, or None."""
    if spec.schedule_family == "torch":
        return (
            f"trl sft cannot use the torch scheduler {spec['lr_scheduler_type']}; export the Python "
            "script (it embeds the scheduler) or pick a transformers schedule"
        )
    if spec["load_in_4bit"] and spec["bnb_4bit_compute_dtype"] != spec["dtype"]:
        return (
            f"trl sft computes 4-bit layers in dtype ({spec['dtype']}), not in bnb_4bit_compute_dtype "
            f"({spec['bnb_4bit_compute_dtype']}); export the Python script or make the two equal"
        )
    return None


def trl_yaml(spec: RunSpec, model_path: str | None = None, facts: Facts | None = None) -> str:
    """(b) A config for `trl sft --config sft.yaml` (TRL's ScriptArguments, ModelConfig and SFTConfig names)."""
    facts = facts or detect_facts()
    problem = trl_yaml_problem(spec)
    if problem:
        raise ExportError(problem)
    ref = spec["model"]
    if builtin.is_builtin(ref) and not model_path:
        raise ExportError(f"{ref} has no folder for trl sft to load; write_bundle saves its initial weights")
    doc: dict[str, Any] = {
        "model_name_or_path": model_path or _abs_or_id(ref),
        "dtype": spec["dtype"],
        "attn_implementation": resolve_attention(spec.values, facts),
    }
    if spec["use_peft"]:
        doc.update(
            use_peft=True,
            lora_r=spec["lora_r"],
            lora_alpha=spec["lora_alpha"],
            lora_dropout=spec["lora_dropout"],
            lora_target_modules=spec["lora_target_modules"],
            use_rslora=spec["use_rslora"],
            use_dora=spec["use_dora"],
        )
    if spec["load_in_4bit"] or spec["load_in_8bit"]:
        doc.update(
            load_in_4bit=spec["load_in_4bit"],
            load_in_8bit=spec["load_in_8bit"],
            bnb_4bit_quant_type=spec["bnb_4bit_quant_type"],
            use_bnb_nested_quant=spec["bnb_4bit_use_double_quant"],
        )
    data = spec["dataset"]
    if builtin.is_builtin(data):
        # Relative to the bundle folder, where `trl sft` runs; a bare "NAME" would be read as a Hub id.
        doc["dataset_name"] = f"assets/datasets/{builtin.builtin_name(data)}"
    elif Path(data).expanduser().is_file():
        path = Path(data).expanduser().resolve()
        doc["datasets"] = [{"path": sources.DATA_BUILDERS[path.suffix], "data_files": str(path), "split": "train"}]
    else:
        doc.update(dataset_name=_abs_or_id(data), dataset_config=spec["dataset_config"])
    doc.update(
        dataset_train_split=spec["dataset_train_split"],
        dataset_test_split=spec["dataset_test_split"],
        dataset_streaming=spec["dataset_streaming"],
        output_dir=output_dir(spec),
    )
    doc.update(spec.sft_kwargs(use_cpu=facts.on_cpu(spec["use_cpu"])))
    header = f"# trl sft --config {TRL_YAML}   (exported by lrexplorer {__version__})\n"
    return header + yaml.safe_dump(json.loads(json.dumps(doc)), sort_keys=False)


def _abs_or_id(ref: str) -> str:
    path = Path(ref).expanduser()
    return str(path.resolve()) if path.exists() else ref


def accelerate_command(
    spec: RunSpec, script: str = SCRIPT, facts: Facts | None = None, cluster: Cluster | None = None
) -> str:
    """(c) `accelerate launch` for the script, with the spec's num_processes (per machine) and, for several
    machines, their rank and meeting point (`cluster`; FieldError names a missing one)."""
    facts = facts or detect_facts()
    precision = "bf16" if spec["bf16"] else "fp16" if spec["fp16"] else "no"
    parts = ["accelerate", "launch", *launch_flags(spec, facts, (cluster or Cluster()).checked())]
    parts += ["--mixed_precision", precision, "--dynamo_backend", "no"]
    parts += [script, output_dir(spec)]
    return shlex.join(parts)
