"""bench/attention_kernels.py on the CPU: sdpa runs for real (padding-free batches) and reports the
kernel its first step ran; the flash kernels are listed with the reason they cannot run here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "bench" / "attention_kernels.py"


@pytest.mark.slow
def test_cpu_path_runs_sdpa_and_says_why_flash_cannot_run(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("LRX_LOCK_DIR", str(tmp_path / "locks"))
    spec = importlib.util.spec_from_file_location("attention_kernels", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.main(
        ["--device", "cpu", "--only", "sdpa,flash_attention_4", "--steps", "3", "--batches", "padding_free"]
    )
    ran = {r["batches"]: r for r in rows if r["kernel"] == "sdpa"}
    assert set(ran) == {"padding_free"}  # padded batches: the main run of test_runs_worker records its kernel
    for row in ran.values():
        assert row["ran"] == "SDPA flash kernel (CPU)" and row["tokens_per_s"] > 0, row
    flash = [r for r in rows if r["kernel"] == "flash_attention_4"]
    assert flash and all("flash-attn-4 package" in r["skipped"] for r in flash)
    assert "| sdpa | padding_free | SDPA flash kernel (CPU) |" in capsys.readouterr().out
