"""The Guide's library: lessons, links, search, the corrected example and the demonstrations, each
checked against the real page, catalogue or library it stands for."""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import pytest
from helpers.run_folders import make_run

from lrexplorer.app.common.schedule_inputs import preset_from_query
from lrexplorer.app.pages import PAGES
from lrexplorer.catalogues import params
from lrexplorer.core.resources import APP_SCRIPT
from lrexplorer.guide import LESSONS, arguments, demos, lesson_by_id, paraphrases
from lrexplorer.guide.example import NOTES_EXAMPLE, corrected_example
from lrexplorer.guide.links import SCHEDULES_PAGE, SchedulePreset, notes_comparison_link, schedule_link
from lrexplorer.guide.search import search
from lrexplorer.runs.folder import store
from lrexplorer.schedules import NOTES_SCHEDULES

ROOT = Path(__file__).resolve().parents[2]


def test_lessons_are_complete_and_ids_unique():
    assert len({lesson.id for lesson in LESSONS}) == len(LESSONS)
    for lesson in LESSONS:
        assert lesson.topics and lesson.title and lesson.summary
        assert len({t.id for t in lesson.topics}) == len(lesson.topics)
        assert all(t.text.strip() for t in lesson.topics)
        assert lesson_by_id(lesson.id) is lesson
    assert lesson_by_id("nope") is None


def test_every_catalogue_concept_has_a_lesson():
    taught = arguments.concept_lessons()
    assert set(params.CONCEPTS) <= set(taught), set(params.CONCEPTS) - set(taught)
    for p in params.CATALOGUE_LIST:
        assert lesson_by_id(arguments.lesson_for(p)) is not None


def test_importing_the_guide_loads_neither_torch_nor_transformers():
    import subprocess

    code = (
        "import sys, lrexplorer.guide, lrexplorer.guide.search, lrexplorer.guide.example, lrexplorer.guide.demos, "
        "lrexplorer.guide.memory_curves, lrexplorer.app.figures.guide; "
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


@pytest.mark.parametrize("name", NOTES_SCHEDULES)
def test_schedule_link_presets_the_schedules_page(name):
    preset = SchedulePreset(learning_rate=3e-4, max_steps=750, warmup_steps=40.0)
    link = schedule_link(name, preset)
    assert link.page == SCHEDULES_PAGE and (APP_SCRIPT.parent / PAGES[link.page].script).is_file()
    read = preset_from_query(link.query)
    assert not read.problems
    assert (read.schedules, read.learning_rate, read.max_steps, read.warmup_steps) == ([name], 3e-4, 750, 40.0)


def test_comparison_link_carries_all_six_in_the_notes_order():
    read = preset_from_query(notes_comparison_link(SchedulePreset()).query)
    assert read.schedules == list(NOTES_SCHEDULES) and not read.problems


@pytest.mark.parametrize(
    "query, lesson",
    [
        ("warmup_ratio", "schedulers"),
        ("evaluation_strategy", "arguments"),
        ("exploding gradients", "grad-norm"),
        ("paraphrase", "knowledge"),
        ("memorisation", "knowledge"),
        ("OneCycle", "schedulers"),
        ("RMSNorm", "weight-decay"),
        ("effective batch", "accumulation"),
        ("use_reentrant", "checkpointing"),
        ("sdpa", "flash-attention"),
        ("save_safetensors", "arguments"),
        ("catastrophic forgetting", "knowledge"),
        ("StepLR", "schedulers"),
    ],
)
def test_search_finds_concepts(query, lesson):
    hits = search(query)
    assert hits and hits[0].lesson == lesson, [(h.lesson, h.label) for h in hits]


def test_search_without_match_or_query_is_empty():
    assert search("") == [] and search("   ") == [] and search("xyzzy-quux") == []


def test_every_notes_argument_is_accounted_for():
    rows = {r.notes_name: r for r in arguments.notes_arguments()}
    assert rows["warmup_ratio"].current_name == "warmup_steps"
    assert rows["evaluation_strategy"].current_name == "eval_strategy"
    assert rows["group_by_length"].current_name == "train_sampling_strategy"
    assert rows["save_safetensors"].status == arguments.REMOVED
    for r in rows.values():
        if r.status in (arguments.SAME, arguments.RENAMED):
            assert r.param is params.CATALOGUE[r.current_name]
    # Every notes argument the catalogue knows is shown from it; the rest are named as missing.
    assert {r.notes_name for r in rows.values() if r.status == arguments.MISSING} <= {
        "jit_mode_eval",
        "fp16_opt_level",
        "optim_args",
        "push_to_hub",
    }


def test_argument_reference_is_the_whole_catalogue():
    rows = [row["argument"] for group in arguments.grouped_rows().values() for row in group]
    assert rows == [p.name for p in params.CATALOGUE_LIST]


def test_corrected_example_is_valid_python_that_builds_training_arguments(tmp_path, monkeypatch):
    from transformers import TrainingArguments

    example = corrected_example()
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(example.code, "<example>", "exec"), namespace)
    args = namespace["training_args"]
    assert isinstance(args, TrainingArguments)
    # The notes' settings survive under their current names.
    assert args.warmup_steps == 0.03 and args.max_grad_norm == 0.3 and args.learning_rate == 5e-5
    assert args.lr_scheduler_type.value == "constant_with_warmup"  # "constant" would ignore the warmup
    assert args.optim.value == "adamw_8bit" and args.activation_checkpointing is True
    assert args.activation_checkpointing_kwargs == {"use_reentrant": False}
    assert args.train_sampling_strategy == "random" and args.num_train_epochs == 2 and args.seed == 42
    assert args.report_to in ([], "none", ["none"])  # wandb is not installed here
    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    assert set(example.arguments) <= fields
    assert not {"warmup_ratio", "evaluation_strategy", "group_by_length", "save_safetensors"} & set(example.arguments)


def test_corrected_example_keeps_wandb_when_installed():
    code = corrected_example(installed={"wandb"}).code
    assert 'report_to="wandb"' in code
    assert 'report_to="none"' in corrected_example().code


def test_corrected_example_takes_every_value_from_the_notes():
    example = corrected_example()
    notes = dict(NOTES_EXAMPLE)
    for name in example.arguments:
        old = [r.old for r in params.RENAMED if r.new == name and r.old in notes]
        assert name in notes or old, name


def test_accumulated_gradient_equals_the_large_batch():
    for n, b in ((4, 2), (2, 3), (8, 1)):
        r = demos.accumulation_demo(n_micro=n, micro_batch=b)
        assert r.trainer_diff < 1e-6
        assert len(set(r.tokens_per_micro)) > 1  # unequal token counts: the case that matters
        assert r.naive_diff > 1e-4  # averaging micro-batch means is not exact then
        assert r.undivided_ratio == pytest.approx(n, rel=0.5)
    assert demos.accumulation_demo(1, 4).trainer_diff == 0.0


@pytest.mark.parametrize("g, tau", [((3.0, 4.0), 1.0), ((0.3, 0.4), 1.0), ((-6.0, 8.0), 2.5), ((1e-3, 0.0), 5.0)])
def test_clipping_matches_the_notes_formula(g, tau):
    r = demos.clip_demo(list(g), tau)
    norm = math.hypot(*g)
    assert r.norm_before == pytest.approx(norm)
    expected = [x * tau / (norm + 1e-6) for x in g] if norm > tau else list(g)  # torch adds 1e-6
    assert r.after == pytest.approx(expected, rel=1e-9)
    assert r.clipped == (norm > tau) and r.norm_after <= max(tau, norm) + 1e-9


def test_adamw_decay_is_independent_of_the_gradient_but_adam_l2_is_not():
    rows = demos.decay_demo(0.1)
    adamw = [r.adamw for r in rows]
    assert max(adamw) == pytest.approx(min(adamw), rel=1e-6)
    assert rows[0].adam_l2 > 5 * rows[-1].adam_l2  # Adam's L2 pull fades as the gradient grows


def test_decay_groups_follow_the_lesson_text():
    g = demos.decay_parameter_groups()
    assert g.decayed and g.not_decayed
    assert all(("bias" in n) or ("norm" in n) for n in g.not_decayed)
    assert "model.embed_tokens.weight" in g.decayed and "lm_head.weight" in g.decayed
    assert not any("bias" in n or "norm" in n for n in g.decayed)


def test_paraphrase_subsets_are_the_builtin_sentences(tmp_path):
    from lrexplorer.catalogues import builtin_data

    train5, test5 = paraphrases.facts_with(paraphrases.MAX_PHRASINGS)
    assert (train5, test5) == builtin_data.facts()
    train1, test1 = paraphrases.facts_with(1)
    assert len(train1) == len(builtin_data.FACTS) and test1 == test5
    folder = paraphrases.write_dataset(2, tmp_path / "facts-2")
    assert len((folder / "train.jsonl").read_text().splitlines()) == 2 * len(builtin_data.FACTS)
    runs = [paraphrases.experiment(k) for k in range(1, paraphrases.MAX_PHRASINGS + 1)]
    assert {e.updates_per_epoch * e.epochs for e in runs} == {paraphrases.UPDATES}
    assert runs[-1].dataset == "builtin:facts" and not runs[-1].needs_file
    with pytest.raises(ValueError):
        paraphrases.facts_with(0)


def test_memory_curves_show_the_tradeoffs():
    from lrexplorer.guide.memory_curves import memory_against_sequence

    c = memory_against_sequence()
    acts = c.activations_gib
    # Eager attention grows about with the square of the length at the long end; flash about linearly.
    assert acts["eager attention"][-1] / acts["eager attention"][-2] > 3
    assert acts["flash attention"][-1] / acts["flash attention"][-2] < 2.2
    for i in range(len(c.lengths)):
        assert acts["eager + checkpointing"][i] < acts["eager attention"][i]
        assert c.peak_gib["flash + checkpointing"][i] <= c.peak_gib["flash attention"][i]


def test_a_run_is_matched_to_its_experiment_by_its_config(tmp_path):
    e1 = paraphrases.experiment(1, str(tmp_path))
    e5 = paraphrases.experiment(5, str(tmp_path))
    config = {"dataset": str(tmp_path / "facts-1"), "max_steps": 150, "eval_strategy": "steps"}
    assert paraphrases.matches(config, e1) and not paraphrases.matches(config, e5)
    assert paraphrases.matches({**config, "dataset": "builtin:facts"}, e5)
    assert not paraphrases.matches({**config, "max_steps": 100}, e1)
    assert not paraphrases.matches({**config, "eval_strategy": "no"}, e1)
    assert "--dataset builtin:facts --max_steps 150" in e5.command


def test_the_newest_run_of_each_experiment_is_found_in_the_runs_folder(tmp_path):
    experiments = [paraphrases.experiment(k, str(tmp_path / "data")) for k in (1, 5)]
    e1, e5 = experiments
    root = tmp_path / "runs"
    for run_id, config, created in (
        ("old-1", {"dataset": e1.dataset}, 100.0),
        ("new-1", {"dataset": e1.dataset}, 200.0),
        ("other", {"dataset": e1.dataset, "max_steps": 10}, 300.0),
    ):
        make_run(root, run_id, config={"max_steps": 150, "eval_strategy": "steps", **config}, created_at=created)
    (make_run(root, "damaged", created_at=400.0) / store.CONFIG).write_text("[: not yaml", encoding="utf-8")
    found = paraphrases.newest_runs(experiments, root)
    assert {label: (path.name, e) for label, (path, e) in found.items()} == {e1.label: ("new-1", e1)}
    assert e1.label == "1 phrasing" and e5.label == "5 phrasings"
    make_run(root, "builtin-5", config={"dataset": "builtin:facts", "max_steps": 150, "eval_strategy": "steps"})
    assert paraphrases.newest_runs(experiments, root)[e5.label][0].name == "builtin-5"


def test_ovadia_et_al_is_dated_as_published_everywhere():
    """The paper appeared at EMNLP 2024 (arXiv 2023): every place that dates it says 2024."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    files = [*(root / "lrexplorer").rglob("*.py"), root / "README.md", root / "bench" / "README.md"]
    dated = []
    for path in files:
        text = " ".join(path.read_text(encoding="utf-8").split())
        for match in re.finditer(r"Ovadia et al\.[^.]{0,60}?\b(20\d\d)\b", text):
            dated.append((path.name, match.group(1)))
    assert dated and {year for _, year in dated} == {"2024"}, dated
