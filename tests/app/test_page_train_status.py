"""The Train page's words about where a run is: a queued run waits (it does not claim to load), the device's
holder from another checkout or runs folder comes with the command that stops it, and a saved checkpoint is
named in a sentence that reads."""

from __future__ import annotations

from pathlib import Path

from helpers.run_folders import make_run
from test_page_train import errors, run, start_button, train_page

from lrexplorer.runs.folder import lock


def progress_text(at) -> str:
    return at.get("progress")[0].proto.text


def test_a_queued_run_waits_and_does_not_say_it_loads(isolated: Path) -> None:
    make_run(
        isolated, "waiting", state="queued", message="queued · waiting for the cpu", ended_at=None, started_at=None
    )
    at = train_page("waiting")
    assert any("queued" in m.value and "waiting for the cpu" in m.value for m in at.markdown)
    text = progress_text(at)
    assert "starts when the device is free" in text and "loading model and data" not in text


def test_the_device_held_by_a_run_of_another_checkout_says_how_to_stop_it(isolated: Path, tmp_path: Path) -> None:
    other = make_run(tmp_path / "elsewhere" / "runs", "theirs", state="running")
    held = lock.acquire("cpu", str(other), wait=False)
    try:
        at = train_page()
        start_button(at).click()
        run(at)
    finally:
        held.close()
    assert any("the cpu is busy with run" in e for e in errors(at)), errors(at)
    said = " ".join(c.value for c in at.caption)
    assert "not in this app's runs folder" in said
    assert f"lrexplorer runs stop theirs --runs_dir {other.parent}" in said
    assert not at.get("page_link") or all(p.proto.query_string != "run=theirs" for p in at.get("page_link"))


def test_a_run_with_only_a_checkpoint_names_it_in_a_sentence_that_reads(isolated: Path) -> None:
    run_dir = make_run(isolated, "stopped1", state="stopped", message="stopped on request")
    (run_dir / "checkpoint-22").mkdir()
    (run_dir / "checkpoint-22" / "config.json").write_text("{}")
    (run_dir / "checkpoint-22" / "trainer_state.json").write_text('{"global_step": 22}')  # written last: complete
    at = train_page("stopped1")
    said = " ".join(m.value for m in at.markdown)
    assert "The newest checkpoint (checkpoint-22) is saved in" in said and " are saved in" not in said
