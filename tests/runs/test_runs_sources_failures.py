"""Bad model folders and data files are caught before launch, and by the loaders in the worker, with a
message naming the file and what is wrong, never a raw StopIteration or library error."""

from __future__ import annotations

import json

import pytest

from lrexplorer.catalogues.params import FieldError, defaults
from lrexplorer.cli import main
from lrexplorer.runs.training.sources import check_sources, load_model, load_splits, load_tokenizer

GOOD_ROW = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}


def _values(**given):
    return {**defaults(), **given}


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _lines(rows):
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


# case: (file name, content, words the message must hold)
BAD_DATA = {
    "empty": ("d.jsonl", b"", "is empty"),
    "blank lines": ("d.jsonl", b"\n\n  \n", "is empty"),
    "binary": ("d.jsonl", bytes(range(256)) * 8, "not text"),
    "not json": ("d.jsonl", b"hello\nworld\n", "line 1"),
    "wrong column": ("d.jsonl", _lines([{"question": "a", "answer": "b"}]), "question"),
    "messages as a string": ("d.jsonl", _lines([{"messages": "hi there"}]), "list"),
    "messages without content": ("d.jsonl", _lines([{"messages": [{"role": "user"}]}]), "content"),
    "rows not objects": ("d.jsonl", _lines([[1, 2], [3]]), "object"),
    "json array of strings": ("d.json", b'["a", "b"]', "object"),
    "csv wrong header": ("d.csv", b"a,b\n1,2\n", "columns"),
    "parquet garbage": ("d.parquet", b"PAR1 not really", "Parquet"),
}


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_a_bad_data_file_is_refused_before_launch_naming_file_and_problem(case, tmp_path):
    name, content, words = BAD_DATA[case]
    path = tmp_path / name
    path.write_bytes(content)
    errors = check_sources(_values(dataset=str(path)), probe_hub=False)
    assert [e.field for e in errors] == ["dataset"]
    assert path.name in errors[0].problem and words in errors[0].problem


def test_an_empty_dataset_name_is_refused():
    errors = check_sources(_values(dataset=""), probe_hub=False)
    assert [e.field for e in errors] == ["dataset"] and "empty" in errors[0].problem
    errors = check_sources(_values(model="  "), probe_hub=False)
    assert [e.field for e in errors] == ["model"]


def test_good_files_pass(tmp_path):
    assert check_sources(_values(dataset=str(_jsonl(tmp_path / "ok.jsonl", [GOOD_ROW] * 3))), probe_hub=False) == []
    (tmp_path / "ok.csv").write_text("text\nhello\n")
    assert check_sources(_values(dataset=str(tmp_path / "ok.csv")), probe_hub=False) == []


def test_the_cli_check_refuses_a_bad_file_with_exit_2(tmp_path, capsys):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert main(["train", "--check", "--dataset", str(path)]) == 2
    err = capsys.readouterr().err
    assert "--dataset" in err and "empty.jsonl" in err and "Traceback" not in err


def test_the_loader_translates_what_slips_past_the_probe(tmp_path):
    """A garbage row far beyond the probed ones: the loader's library error becomes a FieldError on dataset."""
    path = tmp_path / "late.jsonl"
    path.write_text(json.dumps(GOOD_ROW) + "\n" + "{broken\n", encoding="utf-8")
    with pytest.raises(FieldError) as err:
        load_splits(_values(dataset=str(path)))
    assert err.value.field == "dataset" and "late.jsonl" in err.value.problem


def _model_folder(tmp_path, config_text, weights=None):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(config_text)
    if weights is not None:
        (folder / "model.safetensors").write_bytes(weights)
    return folder


@pytest.mark.parametrize(
    "config, weights, words",
    [
        ("{not json", None, "config.json"),
        ('["a list"]', None, "config.json"),
        ('{"hidden_size": 8}', None, "model_type"),
        ('{"model_type": "llama"}', b"\x10\x00\x00\x00\x00\x00\x00\x00{bad", "model.safetensors"),
        ('{"model_type": "llama"}', b"\x01", "model.safetensors"),
    ],
)
def test_a_broken_model_folder_is_refused_naming_the_file(config, weights, words, tmp_path):
    folder = _model_folder(tmp_path, config, weights)
    errors = check_sources(_values(model=str(folder)), probe_hub=False)
    assert [e.field for e in errors] == ["model"] and words in errors[0].problem


def test_the_model_loader_translates_a_broken_checkpoint(tmp_path):
    """config.json fine, weights truncated: from_pretrained's error becomes a FieldError naming the folder."""
    from transformers import LlamaConfig

    folder = tmp_path / "model"
    LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2
    ).save_pretrained(folder)
    header = json.dumps({"model.embed_tokens.weight": {"dtype": "F32", "shape": [64, 16], "data_offsets": [0, 4096]}})
    (folder / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header.encode() + b"\0" * 10)
    values = _values(model=str(folder))
    with pytest.raises(FieldError) as err:
        load_model(values, load_tokenizer(_values()), "sdpa")
    assert err.value.field == "model" and "model" in err.value.problem
