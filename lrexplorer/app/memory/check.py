"""The Memory page's check against PyTorch: the real step, simulated (nothing allocated) or measured, run
in a worker process (`lrexplorer.memory.pytorch.engine_process`), and its phases next to the estimate's.

The worker reports progress as JSON lines. They are read by a thread into a queue, so the page waits
with a deadline: a worker that hangs (a stuck download, a deadlocked kernel) is killed with its whole
process group at the deadline and the page says what timed out, instead of waiting forever.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import IO, Any

import pandas as pd
import streamlit as st

from lrexplorer.app.common import roles
from lrexplorer.app.memory.form import MEMORY_STATE
from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.core.resources import SOURCE_ROOT
from lrexplorer.core.units import GIB
from lrexplorer.memory.analytic.estimate import CUBLAS_WORKSPACE, CUDA_CONTEXT, Estimate, estimate
from lrexplorer.memory.analytic.fused_head import head_kind
from lrexplorer.memory.gpus import detected_gpus
from lrexplorer.memory.model_source import ModelSource
from lrexplorer.memory.pytorch.simulate import cpu_twin
from lrexplorer.memory.setup import TRAINERS, TrainingSetup, setup_changes

CPU_MEASURE_FLOPS = 3e12  # ~a minute of a real CPU step on a laptop; beyond that "Measure" is a GPU job
WORKER_TIMEOUT_S = 900.0
WORKER_MODULE = "lrexplorer.memory.pytorch.engine_process"


def worker_command(payload: dict[str, Any]) -> list[str]:
    return [sys.executable, "-m", WORKER_MODULE, json.dumps(payload)]


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)  # end of output


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the worker and everything it started (it leads its own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def read_worker(
    command: list[str], timeout_s: float, on_progress: Callable[[float, str], object]
) -> dict[str, Any] | str:
    """Run `command`, passing each progress line to `on_progress(fraction, message)`; returns the worker's
    result dict, or a one-line reason when it failed or timed out (never raises)."""
    env = {**os.environ, "PYTHONPATH": str(SOURCE_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=SOURCE_ROOT,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        return f"could not start the worker: {exc}"
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True, name="memory-worker-output").start()
    deadline = time.monotonic() + timeout_s
    outcome: dict[str, Any] | str = "the worker stopped without a result (out of memory?)"
    last = "none"
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:  # checked on every line too: a worker that never stops talking also times out
                raise queue.Empty
            line = lines.get(timeout=left)
            if line is None:
                break
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "progress" in msg:
                last = str(msg.get("message", ""))
                on_progress(float(msg["progress"]), last)
            elif "result" in msg:
                outcome = msg["result"]
            elif "error" in msg:
                outcome = str(msg["error"])
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except (queue.Empty, subprocess.TimeoutExpired):
        _kill_group(proc)
        return (
            f"timed out: no result within {timeout_s:g} s, so the worker (python -m {WORKER_MODULE}) and its "
            f"processes were stopped. Last progress: {last}."
        )
    return outcome


def run_worker(mode: str, model: str, setup: TrainingSetup) -> dict[str, Any] | str:
    """The simulated or measured step of `setup` in a worker, with a progress bar."""
    payload = {
        "mode": mode,
        "model": model,
        "setup": {k: (list(v) if isinstance(v, tuple) else v) for k, v in setup.__dict__.items()},
    }
    bar = st.progress(0.0, text="starting ...")
    outcome = read_worker(
        worker_command(payload), WORKER_TIMEOUT_S, lambda f, message: bar.progress(min(1.0, f), text=message)
    )
    bar.empty()
    return outcome


def check_section(source: ModelSource, setup: TrainingSetup, est: Estimate) -> None:
    """The Simulate / Measure buttons and, once one has run, its phases against the estimate's."""
    st.markdown("#### Check it against PyTorch")
    a, b = st.columns(2)
    flops = 6 * est.n_params * setup.per_device_train_batch_size * setup.max_length
    can_measure_cpu = setup.device == "cpu" and flops <= CPU_MEASURE_FLOPS and not setup.load_in_4bit
    gpu_here = bool(detected_gpus())
    why_not = None
    if setup.device == "cuda" and not gpu_here:
        why_not = "no CUDA GPU on this machine (choose device cpu for a small model)"
    elif setup.device == "cpu" and not can_measure_cpu:
        why_not = "too large a step for the CPU here (about a minute of compute at most); simulate instead"
    simulate = a.button(
        "Simulate exactly",
        icon=":material/memory:",
        key="mem.simulate",
        disabled=not roles.can_act(),  # PyTorch in a worker process: the machine's CPU, the teacher's link
        help="The real transformers step (model, optimizer, backward) under FakeTensorMode: every tensor "
        "counted by PyTorch's MemTracker, nothing allocated. Seconds to a minute. With fsdp over several GPUs: "
        "one rank of the FSDP2 step on a fake process group, counted by PyTorch's FSDPMemTracker.",
    )
    measure = b.button(
        "Measure",
        icon=":material/speed:",
        key="mem.measure",
        disabled=why_not is not None or not roles.can_act(),
        help=why_not or "Two real training steps in a worker process; the second one is measured.",
    )
    if why_not:
        b.caption(f"Measure is off: {why_not}.")
    if (simulate or measure) and not roles.refuse_if_viewer("Simulating or measuring a step"):
        local_or_hub = MEMORY_STATE.get("path") or MEMORY_STATE.get("hub")
        model = source.label if source.kind == "preset" else str(local_or_hub)
        outcome = run_worker("simulate" if simulate else "measure", model, setup)
        label = "simulated" if simulate else "measured"
        st.session_state["mem.check"] = (outcome, label, (source.label, setup))
    check = st.session_state.get("mem.check")
    if check:
        outcome, label, checked = check
        if checked != (source.label, setup):
            # A result next to another setup's estimate would read as a (false) agreement: say it is stale.
            st.info(
                f"The last {label} step was for another setup ({changes(checked, (source.label, setup))}); "
                "run it again to check the one above.",
                icon=":material/history:",
            )
            return
        compared = simulated_path(source.architecture, setup) if label == "simulated" else est
        show_check(outcome, compared, label, est, source.architecture)


def changes(old: tuple[str, TrainingSetup], new: tuple[str, TrainingSetup]) -> str:
    """What differs between the checked (model, setup) and the current one, as `name old → new`."""
    model = [f"model {old[0]} → {new[0]}"] if old[0] != new[0] else []
    return ", ".join(model + setup_changes(old[1], new[1]))


def simulated_path(arch: Architecture, setup: TrainingSetup) -> Estimate:
    """The estimate of the step the simulation really runs: the setup's CPU twin (the kernels a CPU has:
    for SFTTrainer, TRL's fused LM head on its torch fallback), with the CUDA context and workspace the
    simulation adds for a CUDA setup. Compared with the simulated step, it is like against like."""
    twin = estimate(arch, cpu_twin(setup, arch))
    if setup.device != "cuda":
        return twin
    extra = CUDA_CONTEXT + CUBLAS_WORKSPACE
    return replace(
        twin,
        phases={k: v + extra for k, v in twin.phases.items()},
        peak_bytes=twin.peak_bytes + extra,
        components={**twin.components, "cuda_context": CUDA_CONTEXT, "cuda_workspace": CUBLAS_WORKSPACE},
    )


def path_note(arch: Architecture, est: Estimate, compared: Estimate) -> str | None:
    """Which trainer's step the simulation ran and why the estimate above differs from it, in words; None
    when the simulated step is the one the estimate above models."""
    setup = est.setup
    ran, modelled = head_kind(arch, cpu_twin(setup, arch)), head_kind(arch, setup)
    if ran == modelled:
        return None
    gap = 100 * (est.peak_bytes - compared.peak_bytes) / compared.peak_bytes
    return (
        f"Simulated: {TRAINERS[setup.trainer]}, on TRL's torch fallback, the only path a CPU can run. On a CUDA "
        "GPU, SFTTrainer runs TRL's Triton kernels instead, which work in place and score only the labelled "
        f"positions, so the estimate above for your GPU ({est.peak_bytes / GIB:.2f} GiB) is {gap:+.1f}% from "
        f"the simulated step ({compared.peak_bytes / GIB:.2f} GiB). The table compares the simulated step with "
        "the estimate of that same fallback step, phase by phase."
    )


def show_check(
    outcome: dict[str, Any] | str, compared: Estimate, label: str, est: Estimate, arch: Architecture
) -> None:
    """The last simulated or measured step next to the estimate of the same step (or why it failed), and, for
    a simulation, which trainer's step it ran and why the estimate above may differ."""
    if isinstance(outcome, str):
        st.error(f"The {label} step failed: {outcome}", icon=":material/error:")
        return
    phases, peak, components = compared.phases, compared.peak_bytes, compared.components
    overhead = components["cuda_context"] + components["cuda_workspace"] if label == "measured" else 0
    rows = [
        {
            "phase": p.replace("_", " "),
            f"{label} GiB": outcome["phase_peaks"].get(p, 0) / GIB,
            "estimated GiB": (phases[p] - overhead) / GIB,
        }
        for p in phases
    ]
    truth = outcome["peak_bytes"]
    rows.append({"phase": "PEAK", f"{label} GiB": truth / GIB, "estimated GiB": (peak - overhead) / GIB})
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        key="mem.check_table",
        column_config={c: st.column_config.NumberColumn(format="%.3f") for c in (f"{label} GiB", "estimated GiB")},
    )
    same = " of the same step" if compared is not est else ""
    st.caption(
        f"Estimate{same} {100 * ((peak - overhead) - truth) / truth:+.1f}% against the {label} step "
        f"({outcome['seconds']:.0f} s)."
        + (" The CUDA context is left out: PyTorch's allocator does not see it." if overhead else "")
    )
    note = path_note(arch, est, compared) if label == "simulated" else None
    if note:
        st.info(note, icon=":material/info:")
