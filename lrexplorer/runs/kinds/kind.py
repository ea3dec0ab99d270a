"""What a run kind is: a name, and what it adds to the run's trainer and says when the run ends.

A kind's `attach(run_dir, settings, trainer)` adds its pieces (callbacks, a scheduler) to the trainer the
worker built and returns an `Attached`, whose `finish(stop_reason, nonfinite)` gives the run's final
(state, message), or None to let the run end as any run does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

KIND_FILE = "run_kind.json"  # beside config.yaml: the kind's name and settings; absent for a plain run


class Attached(Protocol):
    def finish(self, stop_reason: str | None, nonfinite: str | None) -> tuple[str, str] | None: ...


@dataclass(frozen=True)
class RunKind:
    name: str
    what: str  # the kind in a sentence: "a range test"
    attach: Callable[[Path, dict[str, Any], Any], Attached]
    one_process: bool = True  # its pieces are written for one process: the worker refuses num_processes > 1
