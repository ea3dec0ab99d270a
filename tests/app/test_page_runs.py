"""The Runs page through AppTest, on fabricated run folders: the table, comparing runs (overlaid
curves and a config diff), stop / resume / delete with confirmation, and the exports (downloads
generated from the spec the launcher runs). Every step asserts that no exception is shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.app_pages import run
from helpers.run_folders import append, make_run, record
from streamlit.testing.v1 import AppTest

from lrexplorer.runs import launcher
from lrexplorer.runs.exports import script as export
from lrexplorer.runs.folder import store
from lrexplorer.runs.spec import RunSpec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LRX_LOCK_DIR", str(tmp_path / "locks"))
    root = tmp_path / "runs"
    for i, (run_id, lr, state) in enumerate(
        (("alpha", 1e-3, "completed"), ("beta", 3e-3, "stopped"), ("gamma", 1e-3, "failed"))
    ):
        run_dir = make_run(
            root,
            run_id,
            state=state,
            config={"learning_rate": lr, "seed": 42 + i % 2},
            global_step=20,
            max_steps=20,
            attn_implementation="sdpa",
        )
        append(run_dir, *(record(s, loss=5.0 - s * 0.1 * (i + 1), learning_rate=lr) for s in range(1, 21)))
    return root


def runs_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "main.py"), default_timeout=60)
    at.switch_page("page_scripts/runs.py")
    return run(at)


def table(at: AppTest) -> list[dict]:
    return at.dataframe[0].value.to_dict("records")


def test_table_lists_every_run_with_its_key_facts(runs):
    rows = {r["run"]: r for r in table(runs_page())}
    assert set(rows) == {"alpha", "beta", "gamma"}
    assert rows["beta"]["status"] == "stopped" and rows["beta"]["learning_rate"] == "0.003"
    assert rows["alpha"]["final loss"] == "3.0000" and rows["alpha"]["attention"] == "sdpa"
    # A run that never evaluated shows a dash, never "None".
    assert all(row["eval loss"] == "—" or float(row["eval loss"]) >= 0 for row in rows.values())
    assert "None" not in {v for row in rows.values() for v in row.values()}
    assert rows["alpha"]["model"] == "builtin:tiny" and rows["alpha"]["steps"] == "20/20"


def test_empty_runs_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path / "none"))
    at = runs_page()
    assert any("No runs yet" in i.value for i in at.info)


def test_compare_overlays_curves_and_diffs_configs(runs):
    at = runs_page()
    at.multiselect(key="runs.compare").set_value(["alpha", "beta"])
    run(at)
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    titles = [s["layout"]["title"]["text"] for s in specs]
    assert titles[:2] == ["Loss (smoothed)", "Learning rate"]
    assert [t["name"] for t in specs[0]["data"]] == ["alpha", "beta"]
    diff = {d["field"]: d for d in at.dataframe[1].value.to_dict("records")}
    assert list(diff) == ["seed", "learning_rate"], "catalogue order, differences only"
    assert diff["learning_rate"]["beta"] == "0.003" and diff["seed"]["alpha"] == "42"
    at.toggle(key="runs.smooth").set_value(False)
    run(at)
    assert json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"] == "Loss"


def test_delete_asks_for_confirmation(runs):
    at = runs_page()
    at.selectbox(key="runs.selected").set_value("gamma")
    run(at)
    at.button(key="runs.delete").click()
    run(at)
    assert any("Delete run **gamma**" in w.value for w in at.warning)
    at.button(key="runs.delete_no").click()
    run(at)
    assert (runs / "gamma").is_dir()
    at.button(key="runs.delete").click()
    run(at)
    at.button(key="runs.delete_yes").click()
    run(at)
    assert not (runs / "gamma").exists() and {r["run"] for r in table(at)} == {"alpha", "beta"}


def test_resume_and_stop_call_the_launcher(runs, monkeypatch):
    calls = []
    monkeypatch.setattr(
        launcher, "resume_run", lambda run_dir, queue=False: calls.append(("resume", run_dir.name)) or 1
    )
    ckpt = runs / "beta" / "checkpoint-10"
    ckpt.mkdir()
    (ckpt / "trainer_state.json").write_text("{}", encoding="utf-8")
    at = runs_page()
    at.selectbox(key="runs.selected").set_value("beta")
    run(at)
    at.button(key="runs.resume").click()
    run(at)
    assert calls == [("resume", "beta")] and any("Resumed beta" in s.value for s in at.success)
    at.selectbox(key="runs.selected").set_value("alpha")
    run(at)
    assert "runs.resume" not in {b.key for b in at.button}, "a completed run has nothing to resume"


def test_exports_are_the_export_module_output(runs):
    at = runs_page()
    at.selectbox(key="runs.selected").set_value("alpha")
    run(at)
    spec = RunSpec.from_file(runs / "alpha" / store.CONFIG)
    downloads = {d.key: d for d in at.get("download_button")}
    assert set(downloads) == {"runs.dl_py", "runs.dl_yaml", "runs.dl_acc"}
    codes = {c.language: c.value for c in at.code}
    assert codes["python"] == export.python_script(spec).rstrip("\n") and codes["bash"] == export.accelerate_command(
        spec
    )
    assert codes["yaml"] == export.trl_yaml(spec, model_path="initial_model").rstrip("\n")
    assert any("initial_model/" in c.value for c in at.caption), "the page says where the built-in model comes from"


def test_a_torch_scheduler_cannot_be_a_trl_yaml(runs):
    run_dir = make_run(runs, "torchy", config={"lr_scheduler_type": "StepLR", "lr_scheduler_kwargs": {"step_size": 5}})
    at = runs_page()
    at.selectbox(key="runs.selected").set_value(run_dir.name)
    run(at)
    assert any("cannot use the torch scheduler StepLR" in i.value for i in at.info)
    assert "runs.dl_yaml" not in {d.key for d in at.get("download_button")}


@pytest.mark.slow
def test_bundle_zip_contains_the_yaml(runs):
    import io
    import zipfile

    at = runs_page()
    at.selectbox(key="runs.selected").set_value("alpha")
    run(at)
    at.button(key="runs.bundle").click()
    run(at)
    zip_bytes = at.session_state[f"runs.bundle.{runs.resolve() / 'alpha'}"]
    names = zipfile.ZipFile(io.BytesIO(zip_bytes)).namelist()
    assert {"alpha/train.py", "alpha/sft.yaml", "alpha/accelerate.sh"} <= set(names)
    assert any(n.startswith("alpha/initial_model/") for n in names)


def test_name_column_only_when_a_run_has_a_name(runs):
    order = list(runs_page().dataframe[0].proto.column_order)
    assert "run" in order and "name" not in order, "no column of blanks"
    make_run(runs, "delta", config={"run_name": "warmup-sweep-1"})
    at = runs_page()
    assert "name" in list(at.dataframe[0].proto.column_order)
    assert {r["run"]: r["name"] for r in table(at)}["delta"] == "warmup-sweep-1"


def test_merge_panel_writes_a_merged_model_for_an_adapter_run(runs):
    """A finished LoRA run (a real peft adapter over the built-in base) gets a Merge button; a full
    fine-tune does not."""
    from peft import LoraConfig, get_peft_model

    from lrexplorer.catalogues import builtin
    from lrexplorer.runs.training import sources

    run_dir = make_run(runs, "delta", config={"use_peft": True, "lora_r": 4}, global_step=1, max_steps=1)
    values = store.read_spec(run_dir).values
    tokenizer = builtin.load_tokenizer()
    base = sources.load_model(values, tokenizer, "sdpa", run_dir / store.BASE)
    get_peft_model(base, LoraConfig(r=4, task_type="CAUSAL_LM")).save_pretrained(str(run_dir / store.FINAL))
    tokenizer.save_pretrained(str(run_dir / store.FINAL))

    at = runs_page()
    at.selectbox(key="runs.selected").set_value("alpha")
    run(at)
    assert not [b for b in at.button if b.key == "runs.merge"]  # a full fine-tune has nothing to merge
    at.selectbox(key="runs.selected").set_value("delta")
    run(at)
    at.selectbox(key="runs.merge_dtype").set_value("bfloat16")
    run(at)
    at.button(key="runs.merge").click()
    run(at)
    merged = run_dir / "merged-bfloat16"
    assert (merged / "model.safetensors").is_file() and (merged / "tokenizer.json").is_file()
    assert json.loads((merged / "config.json").read_text())["dtype"] == "bfloat16"
    assert any(str(merged) in s.value for s in at.success)


def test_the_default_selection_follows_the_newest_run_and_names_none_in_the_address(runs):
    at = runs_page()
    newest = table(at)[0]["run"]
    assert at.selectbox(key="runs.selected").value == ""
    assert any(str(runs / newest) in c.value for c in at.caption), "the newest run is the one managed"
    later = make_run(runs, "zeta", state="completed", global_step=20, max_steps=20)
    run(at)
    assert table(at)[0]["run"] == "zeta"
    assert any(str(later) in c.value for c in at.caption), "a new run becomes the one managed"
    assert "run" not in at.query_params
    at.selectbox(key="runs.selected").set_value("alpha")
    run(at)
    assert any(str(runs / "alpha") in c.value for c in at.caption)
