"""The Memory page's trainer note and fit advisor through AppTest: a suggestion applied with one click
fills the form, and the page then says the run fits."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[2] / "lrexplorer" / "app" / "page_scripts" / "memory.py")


def _page(**query: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def test_page_names_the_trainer_and_switches_it() -> None:
    at = _page()
    assert any("Modelled trainer: **sft**" in c.value for c in at.caption)
    peak_sft = next(m.value for m in at.metric if m.label == "Peak per device")
    at.selectbox(key="mem.trainer").set_value("transformers").run()
    assert not at.exception
    assert any("Modelled trainer: **transformers**" in c.value for c in at.caption)
    assert next(m.value for m in at.metric if m.label == "Peak per device") != peak_sft


def test_applying_a_suggestion_makes_it_fit() -> None:
    at = _page(model="Llama-3.1-8B")
    assert any(w.value.startswith("Does not fit") for w in at.warning)
    apply = [b for b in at.button if b.label.startswith("Apply: activation checkpointing")]
    assert apply, [b.label for b in at.button]
    apply[0].click().run()
    assert not at.exception
    assert at.toggle(key="mem.activation_checkpointing").value is True
    assert any(s.value.startswith("Fits.") for s in at.success)


def test_page_warns_when_the_installed_trl_is_not_modelled(monkeypatch) -> None:
    from lrexplorer.memory.analytic import fused_head

    monkeypatch.setattr(fused_head, "installed_trl", lambda: "1.20.0")
    at = _page()
    assert any("TRL 1.20.0 is installed" in w.value for w in at.warning)


def test_the_best_one_gpu_answer_comes_first_beside_the_multi_gpu_ones() -> None:
    """Llama-3.1-8B with the page's defaults on an NVIDIA L4 (a link presets both): a one-GPU answer exists, so
    it leads the table, marked the best on 1 GPU, and the sharded answers follow; applying it makes it fit."""
    at = _page(model="Llama-3.1-8B", advisor_gpu="NVIDIA L4")
    assert any(w.value.startswith("Does not fit. NVIDIA L4") for w in at.warning)
    table = next(t.value for t in at.table if "change" in t.value.columns)
    assert table["GPUs"].iloc[0] == "1" and table["change"].iloc[0].endswith("(best on 1 GPU)")
    assert (table["GPUs"].astype(int) > 1).any()
    assert list(table["GPUs"].astype(int)) == sorted(table["GPUs"].astype(int))
    first = table["change"].iloc[0].removesuffix(" (best on 1 GPU)")
    next(b for b in at.button if b.label == f"Apply: {first}").click().run()
    assert not at.exception and any(s.value.startswith("Fits. NVIDIA L4") for s in at.success)
