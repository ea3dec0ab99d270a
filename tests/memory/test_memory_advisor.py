"""The fit advisor: margins, the largest micro-batch, and suggestions that really fit when applied."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lrexplorer.core.fields import FieldError
from lrexplorer.memory.advice.advisor import advise, flops_per_update, max_batch
from lrexplorer.memory.advice.budget import check_margin, usable_bytes
from lrexplorer.memory.analytic.estimate import estimate
from lrexplorer.memory.gpus import find_gpu
from lrexplorer.memory.model_source import resolve_model
from lrexplorer.memory.setup import TrainingSetup

ARCH = resolve_model("Llama-3.1-8B").architecture
A100 = find_gpu("A100 80GB")
TOO_BIG = TrainingSetup(per_device_train_batch_size=4, max_length=2048)


def test_every_suggestion_fits_when_applied() -> None:
    advice = advise(ARCH, TOO_BIG, A100)
    assert not advice.fits and advice.margin_bytes < 0
    suggestions = advice.suggestions()
    assert len(suggestions) >= 3 and advice.combined is not None
    for s in suggestions:
        applied = TOO_BIG.with_(**s.changes)
        assert estimate(ARCH, applied).peak_bytes <= advice.usable_bytes, s.label
        assert s.setup == applied and estimate(ARCH, applied).peak_bytes == s.peak_bytes
    ranks = [s.rank for s in suggestions]
    assert ranks == sorted(ranks)  # fewest GPUs first, then quality cost, then compute
    assert advice.combined.rank == min(ranks)  # the best answer is at least as good as any change alone
    assert [b.gpus for b in advice.best] == sorted({b.gpus for b in advice.best})  # one best per GPU count


def test_a_fitting_setup_has_no_suggestions_and_its_largest_batch() -> None:
    setup = TOO_BIG.with_(use_peft=True, load_in_4bit=True, activation_checkpointing=True)
    advice = advise(ARCH, setup, A100)
    assert advice.fits and advice.suggestions() == []
    b = advice.max_batch
    assert b >= 4
    assert estimate(ARCH, setup.with_(per_device_train_batch_size=b)).peak_bytes <= advice.usable_bytes
    assert estimate(ARCH, setup.with_(per_device_train_batch_size=b + 1)).peak_bytes > advice.usable_bytes


def test_keep_global_batch_fits_with_the_same_tokens() -> None:
    advice = advise(ARCH, TOO_BIG.with_(activation_checkpointing=True, per_device_train_batch_size=16), A100)
    assert advice.keep_global is not None
    b, ga = advice.keep_global
    assert b * ga == 16
    applied = TOO_BIG.with_(
        activation_checkpointing=True, per_device_train_batch_size=b, gradient_accumulation_steps=ga
    )
    assert estimate(ARCH, applied).peak_bytes <= advice.usable_bytes


def test_margin_is_a_share_of_the_gpu() -> None:
    assert usable_bytes(A100, 0) == A100.total_bytes
    assert usable_bytes(A100, 25) == int(A100.total_bytes * 0.75)
    tight = max_batch(ARCH, TOO_BIG.with_(use_peft=True, load_in_4bit=True), usable_bytes(A100, 40))
    loose = max_batch(ARCH, TOO_BIG.with_(use_peft=True, load_in_4bit=True), usable_bytes(A100, 0))
    assert 0 < tight < loose
    for bad in (-1, 50.5):
        with pytest.raises(FieldError) as err:
            check_margin(bad)
        assert err.value.field == "margin"


def test_flop_model_terms() -> None:
    s = TrainingSetup(per_device_train_batch_size=1, max_length=1)
    n, L, h = ARCH.n_params, ARCH.num_layers, ARCH.hidden_size
    assert flops_per_update(ARCH, s) == 6 * n + 12 * L * h
    assert flops_per_update(ARCH, s.with_(activation_checkpointing=True)) == 8 * n + 16 * L * h
    assert flops_per_update(ARCH, s.with_(use_peft=True)) == 4 * n + 12 * L * h


def _cli(*args: str) -> subprocess.CompletedProcess:
    base = ["--model", "Llama-3.1-8B", "--per_device_train_batch_size", "4", "--max_length", "2048"]
    return subprocess.run(
        [sys.executable, "-m", "lrexplorer", "memory", *base, *args], capture_output=True, text=True, timeout=120
    )


def test_cli_check_exit_codes_and_json() -> None:
    no = _cli("--gpu", "A100 80GB", "--check", "--json")
    assert no.returncode == 1, no.stderr
    data = json.loads(no.stdout)
    assert data["fits"] is False and data["margin_bytes"] < 0 and data["suggestions"]
    assert data["max_batch"] == 1 and data["trainer"] == "sft"
    yes = _cli("--gpu", "A100 80GB", "--check", "--use_peft", "--load_in_4bit", "--margin", "5")
    assert yes.returncode == 0, yes.stderr
    assert "fits" in yes.stdout and "trainer: sft" in yes.stdout
    for bad, flag in ((["--gpu", "A100 80GB", "--check", "--margin", "60"], "--margin"), (["--check"], "--check")):
        res = _cli(*bad)
        assert res.returncode == 2 and flag in res.stderr and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1


def test_cli_says_which_trainer_and_warns_on_a_fallback(monkeypatch, capsys) -> None:
    from lrexplorer.cli import main
    from lrexplorer.memory.analytic import fused_head

    args = ["memory", "--model", "Llama-3.2-1B", "--per_device_train_batch_size", "1", "--max_length", "256"]
    assert main([*args, "--device", "cpu", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["trainer"] == "sft" and data["notes"] == []
    monkeypatch.setattr(fused_head, "installed_trl", lambda: "1.17.0")
    assert main([*args, "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "trainer: sft" in out and "WARNING: TRL 1.17.0 is installed" in out
    assert main([*args, "--device", "cpu", "--trainer", "transformers"]) == 0
    assert "WARNING" not in capsys.readouterr().out


def _brute_force(arch, setup, gpu, margin=10.0):
    """Every combination the advisor may suggest, tried one by one: the switches, ZeRO-3 GPU counts, every
    max_length halving and every micro-batch that keeps the global batch; each one that fits, with its
    (GPUs, quality, compute) rank."""
    import itertools

    from lrexplorer.memory.advice.advisor import QUALITY, SHARD_GPUS, _spread

    usable = usable_bytes(gpu, margin)
    switches = [
        [{}, {"activation_checkpointing": True}],
        [{}, {"optim": "adamw_8bit"}],
        [{}, {"use_peft": True}, {"use_peft": True, "load_in_4bit": True}],
    ]
    costs = {"activation_checkpointing": 0, "optim": 1, "use_peft": 2, "load_in_4bit": 3}
    fits = []
    for combo in itertools.product(*switches):
        base = {k: v for c in combo for k, v in c.items()}
        for n in (1, *SHARD_GPUS):
            if n > 1 and base.get("load_in_4bit"):
                continue  # QLoRA with ZeRO-3 is refused by a real run
            shard = {} if n == 1 else {"num_gpus": n, "zero_stage": 3, **_spread(setup, n)}
            trial = setup.with_(**base, **shard)
            total = trial.per_device_train_batch_size * trial.gradient_accumulation_steps
            for length in (setup.max_length, *(setup.max_length >> k for k in range(1, 4))):
                for b in (b for b in range(1, total + 1) if total % b == 0):
                    t = trial.with_(
                        max_length=length, per_device_train_batch_size=b, gradient_accumulation_steps=total // b
                    )
                    peak = estimate(arch, t).peak_bytes
                    if peak <= usable:
                        quality = max(
                            [costs[k] for k in base] + ([QUALITY["truncation"]] if length < setup.max_length else [0])
                        )
                        fits.append((n, quality, flops_per_update(arch, t)))
    return fits


def test_the_best_one_gpu_answer_is_found_whenever_one_exists() -> None:
    """Llama-3.1-8B with the Memory page's defaults on an NVIDIA L4: LoRA (with checkpointing or a smaller
    micro-batch) fits one L4, and the advisor says so first, beside its multi-GPU answers."""
    from lrexplorer.catalogues.params import CATALOGUE, MEMORY
    from lrexplorer.memory.setup import setup_from_values

    l4 = find_gpu("L4")
    source = resolve_model("Llama-3.1-8B")
    names = ("per_device_train_batch_size", "max_length", "gradient_accumulation_steps", "dtype", "optim", "trainer")
    setup = setup_from_values({n: CATALOGUE[n].default_for(MEMORY) for n in names}, source.config, [])
    # The witness: checkpointing + LoRA fits one L4.
    assert estimate(ARCH, setup.with_(activation_checkpointing=True, use_peft=True)).peak_bytes <= usable_bytes(l4, 10)
    advice = advise(ARCH, setup, l4)
    assert not advice.fits
    first = advice.suggestions()[0]
    assert first.gpus == 1 and advice.is_best(first) and first.peak_bytes <= advice.usable_bytes
    assert any(s.gpus > 1 for s in advice.suggestions()), "the multi-GPU answers are shown beside it"
    # No combination within the advisor's bounds ranks better than its best answer on each GPU count.
    brute = _brute_force(ARCH, setup, l4)
    for best in advice.best:
        same = [r for r in brute if r[0] == best.gpus]
        assert min(same)[:2] >= best.rank[:2], (best.label, min(same))
    assert min(brute)[0] == 1
