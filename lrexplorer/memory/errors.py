"""The one error type of the memory explorer: a user mistake that names the field at fault."""

from __future__ import annotations


class MemoryConfigError(ValueError):
    """Bad model source or training setup: shown as one line (CLI exit status 2, a page message).

    `field` names the setting at fault (`model`, `optim`, `lora_r`, ...) so the page can put the
    message beside the right control and the CLI can name the flag.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
