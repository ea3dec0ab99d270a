"""The Memory page's FSDP options through Streamlit's AppTest: greyed out and ignored with fsdp off, acting
on the per-rank figures with fsdp on, and what each saves in their own table."""

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
RESHARD, OFFLOAD = "mem.fsdp_reshard_after_forward", "mem.fsdp_offload_params"


def page(**query: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for k, v in {**RUN, **query}.items():
        at.query_params[k] = v
    return ran(at)


def ran(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def figures(at: AppTest) -> tuple[list[str], dict[str, float]]:
    """The headline metrics and the per-rank table (empty for one GPU)."""
    tables = [d.value for d in at.dataframe if "per GPU (rank)" in d.value.columns]
    ranks = dict(zip(tables[0]["per GPU (rank)"], tables[0]["GiB"], strict=True)) if tables else {}
    return [m.value for m in at.metric], ranks


def fsdp_table(at: AppTest) -> pd.DataFrame | None:
    found = [
        d.value for d in at.table if "compares" in d.value.columns and d.value["compares"].str.match("fsdp_").all()
    ]
    return found[0] if found else None


def flip_options(at: AppTest) -> AppTest:
    at.toggle(key=RESHARD).set_value(False)
    at.toggle(key=OFFLOAD).set_value(True)
    return ran(at)


def test_with_fsdp_off_its_options_are_greyed_out_and_change_nothing() -> None:
    before = figures(page(num_gpus="4"))
    assert before[1]  # DDP over 4 GPUs: the per-rank table is there
    at = page(num_gpus="4", fsdp_reshard_after_forward="false", fsdp_offload_params="true")
    assert at.toggle(key=RESHARD).disabled and at.toggle(key=OFFLOAD).disabled
    assert any("apply only with fsdp on" in c.value for c in at.caption)
    assert fsdp_table(at) is None and any("act only with fsdp on" in c.value for c in at.caption)
    assert figures(at) == before
    # The options set while fsdp was on act then, and stop acting when it is turned off again.
    at.toggle(key="mem.fsdp").set_value(True)
    sharded = figures(ran(at))
    assert sharded != before and any(k.startswith("CPU RAM") for k in sharded[1])
    at.toggle(key="mem.fsdp").set_value(False)
    assert figures(ran(at)) == before


def test_with_fsdp_on_its_options_change_the_per_rank_figures_and_have_their_savings() -> None:
    at = page(num_gpus="4", fsdp="true")
    assert not at.toggle(key=RESHARD).disabled and not at.toggle(key=OFFLOAD).disabled
    assert not any("apply only with fsdp on" in c.value for c in at.caption)
    assert not any("CPU offload:" in c.value for c in at.caption), "nothing offloaded yet"
    metrics, ranks = figures(at)
    table = fsdp_table(at)
    assert table is not None and len(table) == 2
    assert list(table["compares"]) == ["fsdp_reshard_after_forward False → True", "fsdp_offload_params False → True"]
    assert table["setting"].str.contains("yours: on").iloc[0] and table["setting"].str.contains("yours: off").iloc[1]
    assert (table["saves GiB"].astype(float) > 0).all()
    ram = table["CPU RAM GiB per rank"].astype(float)
    assert ram.iloc[0] == 0 < ram.iloc[1]

    flipped_metrics, flipped = figures(flip_options(at))
    assert flipped_metrics != metrics and flipped != ranks
    arch = resolve_model("Llama-3.1-8B").architecture
    setup = TrainingSetup(per_device_train_batch_size=1, max_length=2048, bf16=True, num_gpus=4, fsdp=True)
    expected = estimate(arch, setup.with_(fsdp_reshard_after_forward=False, fsdp_offload_params=True))
    assert flipped_metrics[0] == f"{expected.peak_bytes / GIB:.2f} GiB"
    offload_row = next(k for k in flipped if k.startswith("CPU RAM"))
    assert abs(flipped[offload_row] - expected.host_bytes / GIB) < 1e-9
    said = f"each rank keeps {expected.host_bytes / GIB:.2f} GiB in the CPU's RAM"
    assert any(said in c.value for c in at.caption), "the headline says where the offloaded memory went"
    table = fsdp_table(at)
    assert table is not None and table["setting"].str.contains("yours: off").iloc[0]
