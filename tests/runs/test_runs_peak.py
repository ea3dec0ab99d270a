"""Predicted against measured peak memory of a run: the record, its warning, the list and the run view,
and a real run of the built-in model whose MemTracker-measured step agrees with the pre-flight."""

from __future__ import annotations

import random

import pytest
from helpers.run_folders import make_run
from helpers.runs import wait_ended, write_jsonl

from lrexplorer.cli import main
from lrexplorer.core.facts import detect_facts
from lrexplorer.core.hardware import detect
from lrexplorer.runs import launcher
from lrexplorer.runs.estimates import memory_check
from lrexplorer.runs.folder import store
from lrexplorer.runs.folder.peak import MEASURE_MAX_PARAMS, cpu_measure_off, over_warning, peak_text
from lrexplorer.runs.folder.summary import table_row
from lrexplorer.runs.spec import RunSpec
from lrexplorer.runs.training.peak_callback import PeakCallback

COLUMN = "predicted / measured peak"


def test_memory_record_merges_and_reads_back_empty_when_absent(tmp_path):
    assert store.read_memory_record(tmp_path) == {}
    store.write_memory_record(tmp_path, predicted_peak_bytes=100, measured_peak_bytes=None)
    record = store.write_memory_record(tmp_path, measured_peak_bytes=90)
    assert record == store.read_memory_record(tmp_path) == {"predicted_peak_bytes": 100, "measured_peak_bytes": 90}
    (tmp_path / store.MEMORY).write_text("[1, 2", encoding="utf-8")
    assert store.read_memory_record(tmp_path) == {}


def test_warning_only_above_ten_percent_and_with_both_figures():
    mib = 2**20
    assert over_warning({"predicted_peak_bytes": 100 * mib, "measured_peak_bytes": 110 * mib}) is None
    assert over_warning({"predicted_peak_bytes": 100 * mib, "measured_peak_bytes": 50 * mib}) is None
    text = over_warning({"predicted_peak_bytes": 100 * mib, "measured_peak_bytes": 111 * mib, "measured_how": "x"})
    assert text is not None and "111.0 MiB" in text and "100.0 MiB" in text and "11%" in text
    assert peak_text({}) == "—"
    assert peak_text({"predicted_peak_bytes": 3 * 2**30, "measured_peak_bytes": None}) == "3.00 GiB / —"


def test_cpu_step_is_measured_up_to_fifty_million_parameters_and_says_why_not_beyond():
    assert cpu_measure_off(MEASURE_MAX_PARAMS) is None
    assert "not measured" in cpu_measure_off(MEASURE_MAX_PARAMS + 1) and "50 M" in cpu_measure_off(120_000_000)


def test_callback_logs_a_warning_when_the_run_exceeds_its_prediction(tmp_path, capsys):
    store.write_memory_record(tmp_path, predicted_peak_bytes=2**30, measured_how="a test")
    PeakCallback(tmp_path, {}, None)._measured(int(1.25 * 2**30))
    record = store.read_memory_record(tmp_path)
    out = capsys.readouterr().out
    assert record["measured_peak_bytes"] == int(1.25 * 2**30) and record["warning"] in out
    assert "1.25 GiB" in out and "1.00 GiB" in out and "25%" in out


def test_runs_list_table_and_json_show_both_figures(tmp_path, capsys, monkeypatch):
    run_dir = make_run(tmp_path, "r1")
    store.write_memory_record(run_dir, predicted_peak_bytes=200 * 2**20, measured_peak_bytes=190 * 2**20)
    row = table_row({**store.read_status(run_dir), "run_id": "r1", "path": str(run_dir)})
    assert row[COLUMN] == "200.0 MiB / 190.0 MiB (-5.0%)"
    assert main(["runs", "list", "--runs_dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert COLUMN in out.splitlines()[0] and "200.0 MiB / 190.0 MiB (-5.0%)" in out
    assert main(["runs", "list", "--runs_dir", str(tmp_path), "--format", "json"]) == 0
    assert '"measured_peak_bytes": 199229440' in capsys.readouterr().out


@pytest.mark.slow
def test_real_run_records_prediction_and_measurement_that_agree_and_the_run_view_shows_them(isolated, tmp_path):
    # Every row is longer than max_length, so each batch is as long as the estimate assumes.
    rng = random.Random(0)
    words = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "a",
        "lazy",
        "dog",
        "while",
        "seven",
        "small",
        "birds",
        "sing",
    ]
    data = write_jsonl(tmp_path / "long.jsonl", [{"text": " ".join(rng.choices(words, k=300))} for _ in range(48)])
    spec = RunSpec.from_dict(
        {
            "dataset": str(data),
            "max_length": 96,
            "per_device_train_batch_size": 4,
            "max_steps": 3,
            "save_strategy": "no",
        }
    )
    run_dir = launcher.start_run(spec, isolated, run_id="peak")
    assert wait_ended(run_dir)["state"] == "completed", store.log_tail(run_dir)
    record = store.read_memory_record(run_dir)
    predicted = memory_check(spec.values, detect_facts(), detect()).peak_bytes  # what the pre-flight shows
    assert record["device"] == "cpu" and record["predicted_peak_bytes"] == predicted
    assert record["measured_step"] == 2 and "MemTracker" in record["measured_how"]
    assert abs(record["measured_peak_bytes"] / predicted - 1) <= 0.10, record
    assert record["warning"] is None and "warning" not in store.log_tail(run_dir, 200)

    from test_page_train import train_page

    at = train_page("peak")
    shown = {m.label: m.value for m in at.metric}
    assert shown[COLUMN] == peak_text(record)


def test_runs_page_compare_lists_each_runs_peaks(tmp_path, monkeypatch):
    from test_page_runs import run, runs_page

    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path))
    for run_id, measured in (("a", 100), ("b", 120)):
        run_dir = make_run(tmp_path, run_id)
        store.write_memory_record(run_dir, predicted_peak_bytes=100 * 2**20, measured_peak_bytes=measured * 2**20)
    at = runs_page()
    at.multiselect(key="runs.compare").set_value(["a", "b"])
    run(at)
    table, peaks = (d.value.to_dict("records") for d in at.dataframe if COLUMN in d.value.columns)
    assert {r["run"]: r[COLUMN] for r in table} == {"a": "100.0 MiB / 100.0 MiB (+0.0%)", "b": peaks[1][COLUMN]}
    assert peaks == [
        {"run": "a", COLUMN: "100.0 MiB / 100.0 MiB (+0.0%)"},
        {"run": "b", COLUMN: "100.0 MiB / 120.0 MiB (+20.0%)"},
    ]
