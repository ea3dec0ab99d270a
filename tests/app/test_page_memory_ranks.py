"""The Memory page's per-GPU (rank) table for a run over several GPUs, through Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from lrexplorer.core.units import GIB
from lrexplorer.memory.analytic.estimate import estimate
from lrexplorer.memory.model_source import resolve_model
from lrexplorer.memory.setup import TrainingSetup

PAGE = str(Path(__file__).resolve().parents[2] / "lrexplorer" / "app" / "page_scripts" / "memory.py")
RUN = {"model": "Llama-3.1-8B", "per_device_train_batch_size": "1", "max_length": "2048", "bf16": "true"}


def ranks_table(**query: str) -> tuple[AppTest, pd.DataFrame | None]:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for k, v in {**RUN, **query}.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    tables = [d.value for d in at.dataframe if "per GPU (rank)" in d.value.columns]
    return at, tables[0] if tables else None


def gib(table: pd.DataFrame, row: str) -> float:
    return float(table.loc[table["per GPU (rank)"].str.startswith(row), "GiB"].iloc[0])


def test_fsdp_shows_each_rank_s_share_and_it_shrinks_with_more_gpus() -> None:
    at, eight = ranks_table(num_gpus="8", fsdp="true")
    assert eight is not None
    assert any("8 GPUs" in m.value for m in at.markdown)
    assert any("per GPU (rank) of 8, FSDP2 full shard" in c.value for c in at.caption)
    assert any(m.label == "Peak per GPU (rank)" for m in at.metric)
    arch = resolve_model("Llama-3.1-8B").architecture
    expected = estimate(
        arch, TrainingSetup(per_device_train_batch_size=1, max_length=2048, bf16=True, num_gpus=8, fsdp=True)
    )
    assert abs(gib(eight, "weights") - expected.components["weights"] / GIB) < 1e-9
    _, two = ranks_table(num_gpus="2", fsdp="true")
    assert two is not None
    for row in ("weights", "gradients", "optimizer states"):
        assert gib(eight, row) < gib(two, row) / 3, row
    assert gib(eight, "activations") == gib(two, "activations")
    assert not eight["per GPU (rank)"].str.startswith("CPU RAM").any()


def test_offload_reports_the_cpu_ram_each_rank_needs() -> None:
    _, table = ranks_table(num_gpus="8", fsdp="true", fsdp_offload_params="true")
    assert table is not None
    assert gib(table, "weights") == 0 and gib(table, "optimizer states") == 0
    assert gib(table, "CPU RAM") > 10  # float32 shards, gradients and Adam states of 8B parameters over 8 ranks


def test_one_gpu_shows_no_rank_table() -> None:
    _, table = ranks_table()
    assert table is None
