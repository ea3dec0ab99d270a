"""The Memory page's worker call: progress and results are read line by line, and a worker that hangs is
killed with everything it started at the deadline, the page naming what timed out."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lrexplorer.app.memory import check as memory_check
from lrexplorer.app.memory.check import read_worker

ROOT = Path(__file__).resolve().parents[2]

# A worker that reports once, starts a child of its own, then hangs (as a stuck download would).
HANGS = """
import json, os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(json.dumps({"progress": 0.2, "message": f"pids {os.getpid()} {child.pid}"}), flush=True)
time.sleep(600)
"""
CHATTY = """
import json, time
while True:
    print(json.dumps({"progress": 0.5, "message": "still going"}), flush=True)
    time.sleep(0.05)
"""
WORKS = """
import json
print("not json: ignored")
print(json.dumps({"progress": 0.5, "message": "half way"}), flush=True)
print(json.dumps({"result": {"peak_bytes": 123}}), flush=True)
"""
FAILS = 'import json; print(json.dumps({"error": "max_length: must be at least 1"}))'


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a killed process nobody has reaped yet is gone too


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_hung_worker_is_killed_with_its_children_at_the_deadline():
    seen = []
    started = time.monotonic()
    outcome = read_worker(python(HANGS), 2.0, lambda f, m: seen.append((f, m)))
    elapsed = time.monotonic() - started
    assert isinstance(outcome, str) and outcome.startswith("timed out: no result within 2 s")
    assert "lrexplorer.memory.pytorch.engine_process" in outcome
    assert elapsed < 60, "returned long after its deadline"  # it would otherwise wait ten minutes
    assert len(seen) == 1 and seen[0][0] == 0.2
    pids = [int(p) for p in seen[0][1].split()[1:]]
    assert f"Last progress: {seen[0][1]}." in outcome
    for _ in range(100):
        if not any(alive(p) for p in pids):
            break
        time.sleep(0.1)
    assert not [p for p in pids if alive(p)], "the worker or its child survived the deadline"


def test_a_worker_that_never_stops_talking_also_times_out():
    outcome = read_worker(python(CHATTY), 1.0, lambda f, m: None)
    assert isinstance(outcome, str) and outcome.startswith("timed out")


def test_progress_then_result():
    seen = []
    assert read_worker(python(WORKS), 60.0, lambda f, m: seen.append((f, m))) == {"peak_bytes": 123}
    assert seen == [(0.5, "half way")]


def test_errors_and_silent_exits_are_one_line():
    assert read_worker(python(FAILS), 60.0, lambda f, m: None) == "max_length: must be at least 1"
    assert "without a result" in str(read_worker(python("pass"), 60.0, lambda f, m: None))
    assert str(read_worker(["/nonexistent/python"], 60.0, lambda f, m: None)).startswith("could not start the worker")


def test_the_page_reports_a_hung_simulation_and_stays_usable(monkeypatch):
    monkeypatch.setattr(memory_check, "worker_command", lambda payload: python(HANGS))
    monkeypatch.setattr(memory_check, "WORKER_TIMEOUT_S", 2.0)
    at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "page_scripts" / "memory.py"), default_timeout=120).run()
    at.button(key="mem.simulate").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any(e.startswith("The simulated step failed: timed out: no result within 2 s") for e in errors), errors
    assert at.metric[0].label == "Peak per device"  # the estimate above is still there


@pytest.mark.slow  # a real simulated step of SmolLM2-135M in the worker: about a minute
def test_simulate_exactly_compares_like_with_like_and_says_why_the_gpu_estimate_differs():
    """The default setup (SmolLM2-135M, SFTTrainer, device cuda): the simulation runs TRL's fused LM head on its
    torch fallback (the CPU's path). The page compares it with the estimate of that same step, and says beside
    it which trainer it simulated and why the estimate for a GPU (TRL's Triton path) is lower."""
    import re

    at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "page_scripts" / "memory.py"), default_timeout=600).run()
    assert any("Modelled trainer: **sft**" in c.value for c in at.caption)
    at.button(key="mem.simulate").click().run()
    assert not at.exception, [e.value for e in at.exception]
    same = next(c.value for c in at.caption if c.value.startswith("Estimate of the same step"))
    gap = float(re.search(r"([+-]\d+\.\d)%", same).group(1))
    assert abs(gap) < 1.0, same  # like against like: the analytic torch-fallback step against the simulated one
    note = next(i.value for i in at.info if i.value.startswith("Simulated: TRL's SFTTrainer"))
    assert "torch fallback" in note and "Triton" in note
    shown = float(re.search(r"for your GPU \((\d+\.\d+) GiB\) is ([+-]\d+\.\d)%", note).group(2))
    assert shown < -10, note  # the GPU path keeps less than the fallback the CPU ran
