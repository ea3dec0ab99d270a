"""Token counts of a dataset's rows: equal to what TRL's SFTTrainer tokenises, sampled cheaply, and the
pre-flight's estimate padded to the longest of them (saying so) instead of to max_length."""

from __future__ import annotations

import json

from helpers.runs import write_jsonl

from lrexplorer.catalogues.builtin import dataset_files, load_tokenizer
from lrexplorer.core.facts import Facts
from lrexplorer.memory.setup import setup_from_values
from lrexplorer.runs.estimates import _architecture, memory_check
from lrexplorer.runs.spec import RunSpec
from lrexplorer.runs.training.lengths import SAMPLE_ROWS, dataset_lengths, row_tokens

CPU = Facts(gpu_capabilities=(), cpu_bf16=False, flash_attn=False)


def test_counts_equal_the_input_ids_of_trls_own_dataset_preparation(tmp_path):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from lrexplorer.catalogues.builtin import make_model

    tok = load_tokenizer()
    with open(dataset_files("arithmetic")["train"], encoding="utf-8") as fh:
        chats = [json.loads(next(fh)) for _ in range(20)]
    shapes = {
        "messages": chats,
        "text": [{"text": "a plain line " * n} for n in (1, 7, 30)] + [{"text": "ends with eos" + tok.eos_token}],
        "prompt/completion": [{"prompt": "Q: 2 + " * n, "completion": " A: 4"} for n in (1, 5, 9)],
    }
    model = make_model("tiny", tok, 0, "sdpa")
    for rows in shapes.values():
        config = SFTConfig(output_dir=str(tmp_path), max_length=None, report_to=[], use_cpu=True)
        trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tok)
        assert [row_tokens(r, tok) for r in rows] == [len(ids) for ids in trainer.train_dataset["input_ids"]]


def test_a_large_file_is_sampled_and_a_source_not_read_says_why(tmp_path):
    rows = [{"text": "word " * (1 + i % 47)} for i in range(5 * SAMPLE_ROWS + 3)]  # 47: every length sampled
    path = write_jsonl(tmp_path / "big.jsonl", rows)
    lengths = dataset_lengths(RunSpec.from_dict({"dataset": str(path)}, CPU).values)
    assert not isinstance(lengths, str)
    assert lengths.total_rows == len(rows) and len(lengths.tokens) <= SAMPLE_ROWS and lengths.sampled
    assert lengths.longest == row_tokens(rows[46], load_tokenizer()) and "of 10,003 rows" in lengths.describe()
    values = RunSpec.from_dict({"dataset": "someone/some-dataset"}, CPU).values
    assert "JSONL" in dataset_lengths(values)
    assert any("unknown (only a built-in or local JSONL" in a for a in memory_check(values, CPU, None).assumptions)


def test_preflight_pads_to_the_longest_example_and_says_which_it_uses():
    from lrexplorer.memory.analytic.estimate import estimate

    values = RunSpec.from_dict({"dataset": "builtin:facts", "max_length": 256}, CPU).values
    with open(dataset_files("facts")["train"], encoding="utf-8") as fh:
        longest = max(row_tokens(json.loads(line), load_tokenizer()) for line in fh)
    mem = memory_check(values, CPU, None)
    arch, config = _architecture(values["model"])
    setup = setup_from_values({**values, "attn_implementation": "sdpa", "device": "cpu"}, config, [])
    full, padded = estimate(arch, setup), estimate(arch, setup.with_(longest_example=longest))
    assert longest < 256 and padded.peak_bytes < full.peak_bytes and mem.peak_bytes == padded.peak_bytes
    assert any(f"{longest} tokens long" in a and "longest example in the dataset" in a for a in mem.assumptions)


def test_train_page_draws_the_length_histogram_of_the_chosen_dataset(tmp_path, monkeypatch):
    from test_page_train import chart, run, train_page

    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path))
    at = train_page()
    with open(dataset_files("arithmetic")["train"], encoding="utf-8") as fh:
        counts = sorted(row_tokens(json.loads(line), load_tokenizer()) for line in fh if line.strip())
    assert sorted(chart(at, "Example lengths")["examples"][0]) == counts
    assert any(f"longest example in the dataset ({counts[-1]} tokens, every row)" in c.value for c in at.caption)
    at.selectbox(key="train.dataset").set_value("builtin:facts")
    run(at)
    assert (
        max(chart(at, "Example lengths")["examples"][0])
        == dataset_lengths({"dataset": "builtin:facts", "model": "builtin:tiny"}).longest
    )
