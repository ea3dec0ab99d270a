"""Run the simulated or measured engine in its own process, reporting progress as JSON lines.

    python -m lrexplorer.memory.pytorch.engine_process '{"mode": "simulate", "model": "SmolLM2-135M", "setup": {...}}'

stdout gets one JSON object per line: {"progress": 0.3, "message": "..."} while it works, then
{"result": {...}} or {"error": "..."}. The page starts it so the app never imports torch itself,
and a crash or an out-of-memory kill takes down only this process.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import fields
from typing import Any

# Measuring is the only thing this process does: a few threads more than the app's default.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def job(spec: dict[str, Any]) -> dict[str, Any]:
    from lrexplorer.core.fields import FieldError
    from lrexplorer.memory.model_source import resolve_model
    from lrexplorer.memory.setup import TrainingSetup

    mode = spec.get("mode")
    if mode not in ("simulate", "measure"):
        raise FieldError("mode", f"must be simulate or measure; got {mode!r}")
    values = dict(spec.get("setup") or {})
    if isinstance(values.get("lora_target_modules"), list):
        values["lora_target_modules"] = tuple(values["lora_target_modules"])
    known = {f.name for f in fields(TrainingSetup)}
    # A TrainingSetup the page built and sent as JSON: the estimate's `validate` checks it as it runs.
    setup = TrainingSetup(**{k: v for k, v in values.items() if k in known})
    source = resolve_model(str(spec.get("model", "")))

    def progress(message: str, fraction: float) -> None:
        emit({"progress": round(fraction, 3), "message": message})

    emit({"progress": 0.01, "message": "loading torch and transformers"})
    started = time.perf_counter()
    result: Any
    if mode == "simulate" and setup.fsdp and setup.num_gpus > 1:
        # One rank of the FSDP2 step, on a fake process group that lives and dies with this process.
        from lrexplorer.memory.pytorch.simulate_parallel import simulate_parallel_step

        result = simulate_parallel_step(source.config, source.architecture, setup, progress=progress)
    elif mode == "simulate":
        from lrexplorer.memory.pytorch.simulate import simulate_step

        result = simulate_step(source.config, source.architecture, setup, progress=progress)
    else:
        from lrexplorer.memory.pytorch.measure import measure_step

        result = measure_step(
            source.config, source.architecture, setup, progress=progress, warmup_steps=int(spec.get("warmup_steps", 1))
        )
    out = result.to_dict()
    out["seconds"] = time.perf_counter() - started
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        spec = json.loads(args[0]) if args else {}
        emit({"result": job(spec)})
        return 0
    except Exception as exc:  # noqa: BLE001 - reported to the page as one line, never a traceback there
        from lrexplorer.core.compat import UnsupportedVersion
        from lrexplorer.core.fields import FieldError

        # These messages are written to be read as they are; anything else is named by its type.
        text = str(exc) if isinstance(exc, (FieldError, UnsupportedVersion)) else f"{type(exc).__name__}: {exc}"
        emit({"error": text})
        return 1


if __name__ == "__main__":
    sys.exit(main())
