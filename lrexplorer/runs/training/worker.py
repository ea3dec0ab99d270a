"""The training process of one run: `python -m lrexplorer.runs.training.worker RUN_DIR [--resume] [--queue]`.

With num_processes > 1 this process supervises (runs/training/ranks.py) and each rank runs this module again
with `--rank-process`: the same training code, where only rank 0 writes the run folder.

Reads RUN_DIR/config.yaml, takes the device lock, trains with TRL and leaves a final status:
completed, stopped (stop request, or SIGTERM), or failed (invalid spec, missing model or data,
non-finite loss, out of memory, any exception, with the traceback in train.log). It is always started
by `launcher.launch` in a new process group, with stdout and stderr going to RUN_DIR/train.log.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import os
import signal
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lrexplorer.core.units import GIB
from lrexplorer.runs.folder import lock, store


class Terminated(BaseException):
    """SIGTERM arrived: unwind and record `stopped` (BaseException so library code does not swallow it)."""


# While training, the first SIGTERM asks the callback to stop at the end of the step with a checkpoint,
# as a stop request does; before training, or at a second SIGTERM, the worker unwinds at once. A rank
# ignores the second one (accelerate's launcher repeats the first): the ranks must stop together.
_TRAINING: list[Any] = []
_RANK: list[int] = []  # this process's rank in a multi-process run; empty for a single-process run


def _on_sigterm(signum: int, frame: Any) -> None:
    callback = _TRAINING[0] if _TRAINING else None
    if callback is not None and (callback.stop_reason is None or _RANK):
        callback.stop_reason = callback.stop_reason or "stopped by SIGTERM"
        return
    raise Terminated()


def _writes() -> bool:
    """Whether this process writes the run folder: a single-process worker, or rank 0."""
    return not _RANK or _RANK[0] == 0


def _status(run_dir: Path, **fields: Any) -> None:
    if _writes():
        store.update_status(run_dir, **fields)


def memory_estimate_text(values: dict[str, Any], facts: Any) -> str:
    """The Memory engine's estimate for this spec (through the Train page's preflight), or why there is none.

    Imported defensively: the estimator is another module's work and must never mask the OOM itself.
    """
    try:
        from lrexplorer.core.hardware import detect
        from lrexplorer.runs.estimates import memory_check

        check = memory_check(values, facts, detect())
    except Exception as exc:  # noqa: BLE001
        return f" (No memory estimate: {type(exc).__name__}: {exc}.)"
    if check.peak_bytes is None:
        return f" (No memory estimate: {check.unavailable}.)"
    return (
        f" The memory estimate for this spec is {check.peak_bytes / GIB:.2f} GiB per device at its peak; "
        f"available: {check.capacity_label}."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lrexplorer.runs.training.worker")
    parser.add_argument("run_dir")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint-N")
    parser.add_argument("--queue", action="store_true", help="wait for the device instead of failing when it is busy")
    parser.add_argument(
        "--lock-fd", type=int, action="append", help="a device lock, taken by the launcher and inherited"
    )
    parser.add_argument("--rank-process", action="store_true", help="one rank of a multi-process run (internal)")
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir).resolve()
    signal.signal(signal.SIGTERM, _on_sigterm)
    if args.rank_process:
        from lrexplorer.runs.training.ranks import adopt_rank

        _RANK.append(int(os.environ.get("RANK", "0")))
        adopt_rank(run_dir, _RANK[0])
    else:
        import psutil

        store.update_status(run_dir, pid=os.getpid(), pid_create_time=psutil.Process().create_time())
    try:
        return (
            _rank(run_dir, args.resume) if args.rank_process else _run(run_dir, args.resume, args.queue, args.lock_fd)
        )
    except Terminated:
        steps = {"global_step": _TRAINING[0].global_step} if _TRAINING else {}  # the heartbeat may lag behind
        _finish(run_dir, "stopped", "terminated by SIGTERM; resume continues from the last checkpoint, if any", **steps)
        return 143


def _finish(run_dir: Path, state: str, message: str, **extra: Any) -> None:
    """The final status; on a full disk it may not be written, and `store.reconcile` reports the end instead.
    A rank records its failure for the supervisor; only rank 0 writes the status."""
    if _RANK:  # the supervisor writes the run's end once every rank has exited (and the devices are free)
        from lrexplorer.runs.training.ranks import record_end

        record_end(run_dir, _RANK[0], state, message, extra)
        print(f"[lrexplorer] rank {_RANK[0]} {state}: {message}", flush=True)
        return
    try:
        store.update_status(run_dir, state=state, ended_at=time.time(), message=message, **extra)
        print(f"[lrexplorer] run {state}: {message}", flush=True)
    except OSError:
        pass


def _drop_metrics_after(run_dir: Path, checkpoint: Path) -> None:
    """A resume logs the steps after its checkpoint again: keep only the records up to it."""
    step = int(checkpoint.name.split("-", 1)[1])
    kept = [r for r in store.read_metrics(run_dir) if _step(r) <= step and "train_runtime" not in r]
    store.write_metrics(run_dir, kept)
    store.update_status(run_dir, resumed_from=checkpoint.name, message=f"resuming from {checkpoint.name}")


def _step(record: dict[str, Any]) -> float:
    step = record.get("step", 0)
    return step if isinstance(step, (int, float)) else 0


def _read(run_dir: Path) -> tuple[Any, Any] | None:
    from lrexplorer.catalogues.params import FieldError
    from lrexplorer.core.facts import detect_facts

    try:
        facts = detect_facts(use_torch=True)
        return facts, store.read_spec(run_dir, facts)
    except (FieldError, store.ConfigUnreadable) as exc:
        _finish(run_dir, "failed", f"invalid spec: {exc}")
        return None


def _run(run_dir: Path, resume: bool, queue: bool, lock_fds: list[int] | None) -> int:
    print(f"[lrexplorer] worker pid {os.getpid()} for {run_dir}", flush=True)
    read = _read(run_dir)
    if read is None:
        return 2
    facts, spec = read
    devices = facts.lock_names(spec["use_cpu"], spec["num_processes"])
    device = ",".join(devices)
    try:
        if queue:
            store.update_status(run_dir, state="queued", message=f"waiting for the {device}")
        held = (
            [lock.adopt(fd, str(run_dir)) for fd in lock_fds]
            if lock_fds
            else lock.acquire_all(devices, str(run_dir), queue)
        )
    except lock.DeviceBusy as exc:
        _finish(run_dir, "failed", f"not started: {exc}")
        return 4
    try:
        return _run_holding(run_dir, spec, facts, resume, device)
    finally:
        for fh in held:
            fh.close()


def _rank(run_dir: Path, resume: bool) -> int:
    """One rank of a multi-process run: the supervisor checked the sources and trimmed the metrics."""
    print(f"[lrexplorer] rank {_RANK[0]} pid {os.getpid()} for {run_dir}", flush=True)
    read = _read(run_dir)
    if read is None:
        return 2
    facts, spec = read
    if spec["deepspeed"]:
        from lrexplorer.core.compat import UnsupportedVersion
        from lrexplorer.runs.training.distributed import prepare_deepspeed_rank

        try:
            prepare_deepspeed_rank()
        except UnsupportedVersion as exc:  # the rank's end says which package and range, without a traceback
            _finish(run_dir, "failed", str(exc))
            return 2
    return _train_guarded(run_dir, spec, facts, resume)


def _run_holding(run_dir: Path, spec: Any, facts: Any, resume: bool, device: str) -> int:
    from lrexplorer.runs.training.sources import check_sources

    problems = check_sources(spec.values)
    if problems:
        _finish(run_dir, "failed", " ".join(str(p) for p in problems))
        return 2
    found = store.checkpoints(run_dir) if resume else []
    if found:
        _drop_metrics_after(run_dir, found[-1])
    store.update_status(
        run_dir, state="running", started_at=time.time(), device_lock=device, message="loading model and data"
    )
    if spec["num_processes"] > 1:
        from lrexplorer.runs.kinds.registry import KINDS, read_kind
        from lrexplorer.runs.training.ranks import supervise

        name = read_kind(run_dir)[0]
        if name is not None and KINDS[name].one_process:  # its pieces are written for one process
            _finish(run_dir, "failed", f"num_processes: {KINDS[name].what} runs on one process; set it to 1")
            return 2

        return supervise(run_dir, spec.values, resume, _finish)
    return _train_guarded(run_dir, spec, facts, resume)


def _train_guarded(run_dir: Path, spec: Any, facts: Any, resume: bool) -> int:
    """Train, turning every failure into a final status (the traceback in the log)."""
    import torch

    from lrexplorer.catalogues.params import FieldError

    try:
        return _train(run_dir, spec, facts, resume)
    except FieldError as exc:
        _finish(run_dir, "failed", str(exc))
        return 2
    except torch.OutOfMemoryError as exc:
        traceback.print_exc()
        _finish(
            run_dir,
            "failed",
            f"out of memory: {exc}.{memory_estimate_text(spec.values, facts)} Lower "
            "per_device_train_batch_size or max_length, or turn on activation_checkpointing, bf16 or use_peft.",
        )
        return 4
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            return _crashed(run_dir, exc)
        _finish(run_dir, "failed", f"disk full: {exc.strerror} while writing {exc.filename or 'the run folder'}")
        return 1
    except Exception as exc:  # noqa: BLE001 - any failure must end as a status, with the traceback in the log
        return _crashed(run_dir, exc)


def _crashed(run_dir: Path, exc: BaseException) -> int:
    with contextlib.suppress(OSError):
        traceback.print_exc()
    from lrexplorer.runs.training.ranks import rank_log_tail

    rank = _RANK[0] if _RANK else 0
    log = store.LOG if rank == 0 else f"ranks/rank-{rank}.log"
    _finish(run_dir, "failed", f"{type(exc).__name__}: {exc}\nLast lines of {log}:\n{rank_log_tail(run_dir, rank)}")
    return 1


def cpu_threads(on_cpu: bool, environ: Mapping[str, str]) -> int | None:
    """Torch threads for a one-process CPU run: every physical core but one, so that the app and the
    browser showing the run keep a core. With all cores taken, OpenMP's waiting threads stall the run
    whenever anything else needs the CPU (bench/viewers_train.py: one viewer cut the built-in run on 2
    cores from 12.7 to 5.1 updates/s; on one thread, 10.5 to 8.6). None: leave torch's choice (a GPU
    run, a rank of a multi-process run, or OMP_NUM_THREADS set by the user)."""
    if not on_cpu or "OMP_NUM_THREADS" in environ:
        return None
    import psutil

    return max(1, (psutil.cpu_count(logical=False) or 1) - 1)


def _train(run_dir: Path, spec: Any, facts: Any, resume: bool) -> int:
    from lrexplorer.runs.training.attention_probe import AttentionProbe
    from lrexplorer.runs.training.callbacks import RunCallback
    from lrexplorer.runs.training.peak_callback import PeakCallback
    from lrexplorer.runs.training.trainer import build_trainer

    threads = cpu_threads(facts.on_cpu(spec["use_cpu"]) and not _RANK, os.environ)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    callback = RunCallback(run_dir, writes=_writes(), world_size=spec["num_processes"])
    # Rank 0's measured peak memory (memory.json) and attention kernel (status) are the run's.
    peak = PeakCallback(run_dir, spec.values, facts) if _writes() else None
    extra = [peak, AttentionProbe(run_dir)] if peak is not None else []
    trainer, info = build_trainer(spec, run_dir, facts, [callback, *extra])
    callback.trainer = trainer
    if peak is not None:
        peak.trainer = trainer
    _TRAINING.append(callback)
    from lrexplorer.runs.kinds.registry import attach

    kind = attach(run_dir, trainer)  # a range test or a sweep trial adds its pieces; None for a plain run
    if threads is not None:
        info["torch_threads"] = threads
    _status(run_dir, message="training", **info)
    print(f"[lrexplorer] {info}", flush=True)
    checkpoint = None
    if resume:
        found = store.checkpoints(run_dir)
        checkpoint = str(found[-1]) if found else None
        print(f"[lrexplorer] resuming from {checkpoint or 'the start (no checkpoint)'}", flush=True)
    # accelerate runs gc.collect() as training starts; freezing the objects of the imports and the model
    # (hundreds of thousands, none of them garbage) makes that collection, and later ones, cheap.
    gc.freeze()
    try:
        trainer.train(resume_from_checkpoint=checkpoint)
    finally:
        callback.close()
    step = trainer.state.global_step
    ending = kind.finish(callback.stop_reason, callback.nonfinite) if kind else None
    if ending:
        _finish(run_dir, *ending, global_step=step)
        return 0
    if callback.nonfinite:
        _finish(run_dir, "failed", callback.nonfinite, global_step=step)
        return 5
    if callback.stop_reason:
        _finish(run_dir, "stopped", f"{callback.stop_reason}; saved checkpoint-{step} to resume from", global_step=step)
        return 0
    trainer.save_model(str(run_dir / store.FINAL))
    _finish(run_dir, "completed", f"trained {step} steps; model and tokenizer in {store.FINAL}/", global_step=step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
