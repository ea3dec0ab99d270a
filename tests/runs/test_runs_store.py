"""The run-folder API (lrexplorer.runs.folder.store): metrics read whole, from an offset, incrementally and
from the end; configs read raw or as a spec; damaged files. Fabricated folders, no training."""

from __future__ import annotations

import json
import math
import os

import pytest
import yaml
from helpers.run_folders import append, make_run, record

from lrexplorer.catalogues.params import FieldError
from lrexplorer.runs.folder import store
from lrexplorer.runs.spec import RunSpec


def test_read_metrics_from_returns_whole_objects_and_where_to_go_on(tmp_path):
    run_dir = make_run(tmp_path)
    append(run_dir, record(1), raw='not json\n[1, 2]\n"text"\n')
    append(run_dir, record(2), raw='{"step": 3, "loss": 4.')  # a record being written right now
    path = run_dir / store.METRICS
    data = path.read_bytes()
    records, offset = store.read_metrics_from(path)
    assert records == [record(1), record(2)], "lines that are not JSON objects are skipped"
    assert offset == data.rfind(b"\n") + 1, "the next read starts at the partial line"
    assert store.read_metrics_from(path, offset) == ([], offset)
    append(run_dir, raw="5}\n")
    assert store.read_metrics_from(path, offset) == ([{"step": 3, "loss": 4.5}], path.stat().st_size)
    assert store.read_metrics(run_dir) == [record(1), record(2), {"step": 3, "loss": 4.5}]
    assert store.read_metrics_from(tmp_path / "nowhere.jsonl", 7) == ([], 7)


def test_tail_metrics_reads_the_last_records_only(tmp_path):
    run_dir = make_run(tmp_path)
    append(run_dir, *(record(s) for s in range(1, 2001)), raw='{"step": 2001')
    tail = store.tail_metrics(run_dir, max_bytes=2000)
    assert 0 < len(tail) < 20 and tail == store.read_metrics(run_dir)[-len(tail) :]
    assert tail[-1]["step"] == 2000
    assert store.tail_metrics(run_dir, max_bytes=10**9) == store.read_metrics(run_dir)
    assert store.tail_metrics(tmp_path / "no-run") == []


def test_metrics_reader_reads_appends_once_and_starts_over_when_the_file_is_replaced(tmp_path):
    run_dir = make_run(tmp_path)
    reader = store.MetricsReader(run_dir)
    assert reader.read() == store.MetricsChunk([], False, 0), "no file yet"
    append(run_dir, record(1), record(2), raw='{"step": 3')
    chunk = reader.read()
    assert [r["step"] for r in chunk.records] == [1, 2] and not chunk.restarted
    assert chunk.bytes_read == 2 * (len(json.dumps(record(1))) + 1)
    append(run_dir, raw=', "loss": 1.0}\n')
    assert reader.read().records == [{"step": 3, "loss": 1.0}]
    assert reader.read().records == [], "nothing new"

    store.write_metrics(run_dir, [record(1)])  # what a resume does: an atomic replacement
    chunk = reader.read()
    assert chunk.restarted and chunk.records == [record(1)]
    with open(run_dir / store.METRICS, "r+", encoding="utf-8") as fh:  # shortened in place
        fh.truncate(0)
    assert reader.read() == store.MetricsChunk([], True, 0)
    append(run_dir, record(7))
    assert [r["step"] for r in reader.read().records] == [7]
    os.remove(run_dir / store.METRICS)
    assert reader.read().restarted and reader.offset == 0


def test_non_finite_values_are_written_as_strings_that_json_reads(tmp_path):
    run_dir = make_run(tmp_path)
    writer = store.MetricsWriter(run_dir)
    writer.write({"step": 1, "loss": math.nan, "grad_norm": math.inf, "learning_rate": 1e-3})
    writer.write({"step": 2, "loss": -math.inf})
    writer.close()
    lines = (run_dir / store.METRICS).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"step": 1, "loss": "nan", "grad_norm": "inf", "learning_rate": 1e-3},
        {"step": 2, "loss": "-inf"},
    ], "strict JSON: no NaN or Infinity literals"
    assert math.isnan(float(store.read_metrics(run_dir)[0]["loss"]))


def test_config_round_trips_and_damage_is_reported_or_read_as_empty(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    spec = RunSpec.from_dict({"learning_rate": 3e-4, "max_steps": 12})
    store.write_config(run_dir, spec)
    assert store.load_config(run_dir) == yaml.safe_load(spec.to_yaml()) == store.read_config(run_dir)
    assert store.read_spec(run_dir).values == spec.values
    version = store.config_version(run_dir)
    assert version is not None

    for text, reason in (("learning_rate: [1e-3", "not valid YAML"), ("- 1\n- 2\n", "mapping of field: value")):
        (run_dir / store.CONFIG).write_text(text, encoding="utf-8")
        assert store.read_config(run_dir) == {}
        with pytest.raises(store.ConfigUnreadable, match=reason):
            store.load_config(run_dir)
        with pytest.raises(store.ConfigUnreadable, match=r"config\.yaml"):
            store.read_spec(run_dir)
    (run_dir / store.CONFIG).write_text("learning_rate: -1\n", encoding="utf-8")
    with pytest.raises(FieldError) as bad:
        store.read_spec(run_dir)
    assert bad.value.fields == ["learning_rate"]
    (run_dir / store.CONFIG).write_text("", encoding="utf-8")
    assert store.load_config(run_dir) == {}, "an empty config means every default"
    os.remove(run_dir / store.CONFIG)
    assert store.read_config(run_dir) == {} and store.config_version(run_dir) is None
    with pytest.raises(store.ConfigUnreadable, match="cannot be read"):
        store.load_config(run_dir)


def test_damaged_status_reads_as_empty_and_the_folder_is_still_a_run(tmp_path):
    run_dir = make_run(tmp_path)
    for text in ("{not json", "[1, 2]"):
        (run_dir / store.STATUS).write_text(text, encoding="utf-8")
        assert store.read_status(run_dir) == {}
    assert store.is_run(run_dir) and not store.is_run(tmp_path)


def test_final_model_needs_its_config(tmp_path):
    run_dir = make_run(tmp_path)
    (run_dir / store.FINAL).mkdir()
    assert store.final_model(run_dir) is None, "a save cut off before config.json"
    (run_dir / store.FINAL / "config.json").write_text("{}", encoding="utf-8")
    assert store.final_model(run_dir) == run_dir / store.FINAL


def test_delete_run_refuses_active_and_foreign_folders(tmp_path):
    root = tmp_path / "runs"
    done = make_run(root, "done")
    import psutil

    live = make_run(root, "live", state="running", pid=os.getpid(), pid_create_time=psutil.Process().create_time())
    with pytest.raises(RuntimeError, match="stop it"):
        store.delete_run(live, root)
    with pytest.raises(ValueError, match="not a run folder"):
        store.delete_run(tmp_path, root)
    store.delete_run(done, root)
    assert not done.exists() and live.exists()
