"""The exit status of every `lrexplorer` command, by name. The README's table ("Runs: ids, folders and exit
codes") says the same, word for word (tests/cli/test_cli_exit_codes.py compares them)."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    FAILED = 1
    INVALID = 2
    STOPPED = 3
    DEVICE_BUSY = 4


MEANING: dict[Exit, str] = {
    Exit.OK: "done (or started, with `--detach`)",
    Exit.FAILED: "failed (or the run folder cannot be written, e.g. disk full; `memory --check`: it does not fit)",
    Exit.INVALID: "invalid input (a field, an unknown or broken run, a completed run, no checkpoint)",
    Exit.STOPPED: "stopped (Ctrl-C, or `runs stop` from elsewhere)",
    Exit.DEVICE_BUSY: "device busy (one run per device; `--queue` waits instead)",
}
