"""Attention kernels: what each needs (against transformers' own checks), auto's choice, the rules of a
run spec, and the kernel a step really ran (from real profiler output)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from lrexplorer.core.facts import Facts
from lrexplorer.core.kernels import FLASH, KERNELS, best_flash, kernel_problem, sdpa_backend
from lrexplorer.rules.attention import attention_note, resolve_attention
from lrexplorer.runs.spec import RunSpec

H100_FA4 = Facts(
    gpu_capabilities=((9, 0),), cpu_bf16=True, flash_attn=False, flash_kernels=frozenset({"flash_attention_4"})
)
A100_ALL = Facts(
    gpu_capabilities=((8, 0),),
    cpu_bf16=True,
    flash_attn=True,
    flash_kernels=frozenset({"flash_attention_3", "flash_attention_4"}),
)
CPU = Facts(gpu_capabilities=(), cpu_bf16=True, flash_attn=False)


def test_the_catalogue_offers_every_kernel():
    from lrexplorer.catalogues.params import CATALOGUE

    assert set(KERNELS) == set(CATALOGUE["attn_implementation"].choices) - {"auto"}


def test_capability_floors_are_transformers():
    from transformers.modeling_flash_attention_utils import FLASH_ATTENTION_COMPATIBILITY_MATRIX as MATRIX

    for version in (3, 4):
        floor = KERNELS[f"flash_attention_{version}"].min_capability
        assert floor is not None and floor[0] == MATRIX[version]["cuda_min_major_version"]


def test_a_package_is_found_by_its_distribution_name_as_transformers_finds_it(tmp_path):
    """A fake flash-attn-4 install (module flash_attn, distribution flash_attn_4): transformers' own check and
    ours agree that it is flash attention 4 and not 2, in a fresh process (both cache the lookup)."""
    (tmp_path / "flash_attn").mkdir()
    (tmp_path / "flash_attn" / "__init__.py").write_text("")
    info = tmp_path / "flash_attn_4-4.0.0b1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: flash-attn-4\nVersion: 4.0.0b1\n")
    (info / "top_level.txt").write_text("flash_attn\n")
    (info / "RECORD").write_text("flash_attn/__init__.py,,\n")
    code = textwrap.dedent(
        """
        from transformers.modeling_flash_attention_utils import FLASH_ATTENTION_COMPATIBILITY_MATRIX as M
        from lrexplorer.core.kernels import installed_flash_kernels
        print(M[2]["pkg_availability_check"](), M[4]["pkg_availability_check"](), sorted(installed_flash_kernels()))
        """
    )
    env_path = f"{tmp_path}:{':'.join(p for p in sys.path if p)}"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": env_path}, check=True
    ).stdout.split("\n")[-2]
    assert out == "False True ['flash_attention_4']"


@pytest.mark.parametrize(
    ("facts", "given", "expected"),
    [
        (H100_FA4, {"bf16": True}, "flash_attention_4"),
        (H100_FA4, {}, "sdpa"),  # float32
        (A100_ALL, {"bf16": True}, "flash_attention_3"),  # 4 needs Hopper; 3 is preferred over 2
        (Facts(((8, 0),), True, True), {"fp16": True}, "flash_attention_2"),
        (CPU, {"bf16": True}, "sdpa"),
    ],
)
def test_auto_takes_the_newest_kernel_that_can_run(facts, given, expected):
    spec = RunSpec.from_dict(given, facts)
    assert resolve_attention(spec.values, facts) == expected


@pytest.mark.parametrize("name", FLASH)
def test_each_flash_kernel_is_refused_where_it_cannot_run_naming_the_field(name):
    from lrexplorer.core.fields import FieldError

    cases = [
        (CPU, {"bf16": True}, "not installed"),
        (Facts(((9, 0),), True, True, frozenset(FLASH)), {}, "float16/bfloat16"),
        (Facts(((7, 5),), True, True, frozenset(FLASH)), {"fp16": True}, "compute capability >= "),
    ]
    for facts, given, words in cases:
        with pytest.raises(FieldError) as caught:
            RunSpec.from_dict({"attn_implementation": name, **given}, facts)
        messages = {e.field: e.problem for e in caught.value.errors}
        assert words in messages["attn_implementation"], messages


def test_flash_attention_4_needs_hopper():
    problem = kernel_problem("flash_attention_4", frozenset(FLASH), (8, 0), True, "the GPU has compute capability 8.0")
    assert problem is not None and ">= 9.0" in problem
    assert best_flash(frozenset(FLASH), (10, 0), True) == "flash_attention_4"


def test_the_note_says_the_sdpa_backend_and_what_cannot_run():
    spec = RunSpec.from_dict({}, CPU)
    note = attention_note(spec.values, CPU)
    assert note.startswith("Attention: sdpa (auto), SDPA backend flash (the CPU kernel)")
    assert all(f"{name} needs the" in note for name in FLASH)
    gpu = Facts(((9, 0),), True, False)
    assert "memory-efficient while batches carry a padding mask" in attention_note(
        RunSpec.from_dict({"bf16": True}, gpu).values, gpu
    )
    assert sdpa_backend((9, 0), True, padded=False) == "flash"


# ---------------------------------------------------------------- the kernel a step ran, from real operators
def profiled_ops(fn) -> set[str]:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return {e.name for e in prof.events()}


def test_the_sdpa_backend_is_read_from_the_operators_that_ran():
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from lrexplorer.runs.training.attention_probe import kernel_from_ops

    q = torch.randn(1, 2, 8, 16, requires_grad=True)

    def attend():
        torch.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True).sum().backward()

    assert kernel_from_ops(profiled_ops(attend), "sdpa") == "SDPA flash kernel (CPU)"
    with sdpa_kernel(SDPBackend.MATH):
        assert kernel_from_ops(profiled_ops(attend), "sdpa") == "SDPA math backend"


def test_eager_attention_is_named_from_a_real_forward():
    import torch

    from lrexplorer.catalogues import builtin
    from lrexplorer.runs.training.attention_probe import kernel_from_ops

    model = builtin.make_model("tiny", builtin.load_tokenizer(), 0, "eager")
    ids = torch.randint(0, 100, (1, 8))
    assert kernel_from_ops(profiled_ops(lambda: model(input_ids=ids)), "eager") == "eager (matmul + softmax)"


def test_the_memory_engine_takes_every_flash_kernel_and_refuses_it_on_the_cpu():
    from lrexplorer.catalogues.architecture import from_config
    from lrexplorer.catalogues.presets import find_preset
    from lrexplorer.core.fields import FieldError
    from lrexplorer.memory.analytic.estimate import estimate
    from lrexplorer.memory.setup import TrainingSetup

    preset = find_preset("SmolLM2-135M")
    assert preset is not None
    arch = from_config(preset.config)
    peaks = {
        k: estimate(arch, TrainingSetup(device="cuda", bf16=True, attn_implementation=k)).peak_bytes for k in FLASH
    }
    # The flash kernels keep the same tensors for the backward pass (q, k, v, the output, a logsumexp).
    assert len(set(peaks.values())) == 1
    with pytest.raises(FieldError, match="flash_attention_4 needs a CUDA GPU"):
        estimate(arch, TrainingSetup(device="cpu", attn_implementation="flash_attention_4"))


def test_padding_free_with_a_max_length_is_refused_as_trl_refuses_it():
    from lrexplorer.core.fields import FieldError

    with pytest.raises(FieldError) as caught:
        RunSpec.from_dict({"padding_free": True, "max_length": 128}, CPU)
    assert "max_length to null" in {e.field: e.problem for e in caught.value.errors}["padding_free"]
    RunSpec.from_dict({"padding_free": True, "max_length": None}, CPU)


@pytest.mark.slow
def test_a_padding_free_run_trains_on_one_row_per_batch(tmp_path, monkeypatch):
    from helpers.runs import isolate_env, step_logs, wait_ended

    from lrexplorer.runs import launcher

    runs = isolate_env(monkeypatch, tmp_path)
    given = {"padding_free": True, "max_length": None, "max_steps": 2, "logging_steps": 1}
    spec = RunSpec.from_dict({**given, "per_device_train_batch_size": 4}, CPU)
    status = wait_ended(launcher.start_run(spec, runs, run_id="pf"))
    assert status["state"] == "completed", status
    assert status["attention"]["implementation"] == "sdpa"
    # Four examples per update although the batch is one flattened row (counted from its sequence bounds).
    logs = step_logs(runs / "pf")
    assert [r["samples_per_s"] * r["step_time_s"] for r in logs] == pytest.approx([4.0, 4.0], rel=1e-6)
