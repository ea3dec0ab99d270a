"""The one field type of lrexplorer and the one error a bad value raises.

A `Field` describes one argument: its name as the libraries spell it, its type, default, allowed
range or values and help text, like the metadata of TRL's config dataclasses. Every front end (the
pages, the CLI, YAML specs) and every engine (schedules, step counting, memory, runs) converts and
checks values through `Field.convert`, so they all refuse the same things with the same words.
The training arguments are listed in `lrexplorer.catalogues.params`; the arguments of each scheduler in
`lrexplorer.schedules`. Nothing here imports torch.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lrexplorer.core.documents import DocumentError, load_json

# The spellings HfArgumentParser's `string_to_bool` accepts, so `--flag false` means the same here.
TRUE_WORDS = ("yes", "true", "t", "y", "1")
FALSE_WORDS = ("no", "false", "f", "n", "0")
# Integers beyond this overflow numpy's int64 arithmetic long before they could mean anything here.
MAX_INT = 10**12
SAME = object()  # library_default sentinel: the library's default equals ours
# Characters no name, path or id holds: C0 and C1 controls (newline, carriage return, escape, ...) and
# Unicode's line and paragraph separators. A text field that names a run, a job, a model or a folder ends up
# in logs, tables and generated scripts, where each of them starts a new line.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def control_problem(text: str) -> str | None:
    """Why `text` cannot be a name (a control character, and where), or None."""
    found = CONTROL.search(text)
    if found is None:
        return None
    return (
        f"must be one line of printable text; got the control character {found.group()!r} at position {found.start()}"
    )


def str_to_bool(value: str | bool) -> bool:
    """True or False for HfArgumentParser's spellings (yes/true/t/y/1, no/false/f/n/0); ValueError otherwise."""
    if isinstance(value, bool):
        return value
    word = value.strip().lower() if isinstance(value, str) else None
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


class FieldError(ValueError):
    """A bad value: `field` names the argument (forms highlight it, the CLI names the flag) and `problem`
    says what is wrong and what is allowed. `scope` is what the field belongs to when its name alone is
    ambiguous (the schedule whose argument it is). `errors` lists every problem when several were found
    at once (`FieldError.collect`), so a form or the CLI can show them all; `field` is then the first."""

    def __init__(self, field: str, problem: str, scope: str | None = None) -> None:
        self.field = field
        self.problem = problem[:-1] if problem.endswith(".") and not problem.endswith("..") else problem
        self.scope = scope
        self.errors: list[FieldError] = [self]
        super().__init__(self.line)

    @property
    def line(self) -> str:
        where = f"{self.field} ({self.scope})" if self.scope else self.field
        return f"{where}: {self.problem}."

    @property
    def fields(self) -> list[str]:
        return [e.field for e in self.errors]

    @classmethod
    def collect(cls, errors: Sequence[FieldError]) -> FieldError:
        """One error carrying every problem of `errors` (which must not be empty)."""
        flat = [e for err in errors for e in err.errors]
        if len(flat) == 1:
            return flat[0]
        combined = cls(flat[0].field, flat[0].problem, flat[0].scope)
        combined.errors = flat
        combined.args = (str(combined),)
        return combined

    def __str__(self) -> str:
        return "\n".join(e.line for e in self.errors)


@dataclass(frozen=True)
class Field:
    """One argument. `kind`: int, float, bool, choice, str, json (a dict), str_list or int_list.

    `tools` tags the front ends that take it (train, schedule, memory); `tool_defaults` holds the
    one place where a tool starts from another value than `default`. A scheduler argument may have
    no fixed default: `derived` computes it from the number of updates the schedule spans, or
    `derived_from_lr` makes it that factor times learning_rate.
    """

    name: str
    kind: str
    default: Any
    help: str
    group: str = ""
    concept: str | None = None  # id of the training notes' concept (lrexplorer.catalogues.params.CONCEPTS)
    tools: tuple[str, ...] = ("train",)
    tool_defaults: Mapping[str, Any] = field(default_factory=dict)
    target: str = "sft"  # sft: SFTConfig; model / data / peft: the worker's loaders; estimate: lrexplorer only
    library_default: Any = SAME  # SFTConfig/ModelConfig default where lrexplorer picks another
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: the value must be > low instead of >=
    high_open: bool = False
    choices: tuple[str, ...] = ()
    choices_of: Callable[[], Sequence[str]] | None = None  # choices owned by another catalogue
    nullable: bool = False  # None is accepted (the library gives it a meaning, said in `help`)
    trl_name: str | None = None  # name in `trl sft --config` YAML when it differs
    also: tuple[Any, ...] = ()  # values accepted outside [low, high], e.g. max_steps=-1
    derived: Callable[[int], Any] | None = None
    derived_help: str = ""  # how `derived` computes the default, for help texts
    derived_from_lr: float | None = None
    # A further check of a converted value (the keys a JSON object may hold): the problem in words, or None.
    check: Callable[[Any], str | None] | None = None

    @property
    def yaml_name(self) -> str:
        return self.trl_name or self.name

    @property
    def hf_default(self) -> Any:
        return self.default if self.library_default is SAME else self.library_default

    def default_for(self, tool: str) -> Any:
        """The value `tool` starts from (a fresh copy, so callers may mutate it)."""
        value = self.tool_defaults.get(tool, self.default)
        return json.loads(json.dumps(value)) if isinstance(value, (dict, list)) else value

    def run_default(self, span: int) -> Any:
        """The default for a schedule spanning `span` updates (`derived`), else the fixed default."""
        if self.default is None and self.derived is not None:
            return self.derived(span)
        return self.default

    def empty_means(self) -> str:
        """What leaving the argument out gives, in words; empty when it is a plain default."""
        if self.derived_from_lr is not None:
            return "learning_rate" if self.derived_from_lr == 1 else f"{self.derived_from_lr:g} × learning_rate"
        if self.default is None and self.derived is not None:
            return self.derived_help
        return ""

    def choice_values(self) -> tuple[str, ...]:
        return tuple(self.choices_of()) if self.choices_of is not None else self.choices

    def allowed(self) -> str:
        """The allowed values in words, as every error and help text shows them."""
        if self.kind == "bool":
            text = "true or false"
        elif self.kind == "choice":
            text = "one of " + ", ".join(self.choice_values())
        elif self.kind == "json":
            text = "a JSON object"
        elif self.kind == "str_list":
            text = "a list of names"
        elif self.kind == "int_list":
            top = "" if self.high is None else f" and <= {self._show(self.high)}"
            text = f"a list of integers >= 0{top}, e.g. [30, 80]"
        elif self.kind == "str":
            text = "text"
        else:
            word = "an integer" if self.kind == "int" else "a number"
            lo = "" if self.low is None else ("> " if self.low_open else ">= ") + self._show(self.low)
            hi = "" if self.high is None else ("< " if self.high_open else "<= ") + self._show(self.high)
            text = " ".join(p for p in (word, " and ".join(x for x in (lo, hi) if x)) if p)
            text += "".join(f", or {v!r}" for v in self.also)
        return text + (" (or null)" if self.nullable else "")

    def _show(self, bound: float) -> str:
        # An integer field's bound in full (a seed's 4294967295, not 4.29497e+09).
        return str(int(bound)) if self.kind == "int" else f"{bound:g}"

    def convert(self, value: Any, scope: str | None = None) -> Any:
        """`value` (typed, or text from a form, a flag or YAML) in this field's type, or FieldError naming
        the field and what is allowed. `scope` goes into the error (the schedule an argument belongs to)."""

        def bad(problem: str) -> FieldError:
            return FieldError(self.name, problem, scope)

        converted = self._convert(value, bad)
        if self.check is not None and converted is not None:
            problem = self.check(converted)
            if problem is not None:
                raise bad(problem)
        return converted

    def _convert(self, value: Any, bad: Callable[[str], FieldError]) -> Any:
        if self.kind == "choice" and value in self.choice_values():
            return value
        if value is None or (
            isinstance(value, str) and value.strip().lower() in ("none", "null") and self.kind != "str"
        ):
            if self.nullable:
                return None
            raise bad(f"is required; allowed: {self.allowed()}")
        if self.kind == "bool":
            try:
                return str_to_bool(value)
            except ValueError:
                raise bad(f"must be true or false; got {value!r}") from None
        if self.kind in ("int", "float"):
            return self._number(value, bad)
        if self.kind == "choice":
            raise bad(f"must be {self.allowed()}; got {value!r}")
        if self.kind == "json":
            return _to_dict(value, bad)
        if self.kind == "str_list":
            items = [s.strip() for s in value.split(",")] if isinstance(value, str) else value
            if isinstance(items, (list, tuple)) and items and all(isinstance(s, str) and s for s in items):
                for item in items:
                    problem = control_problem(item)
                    if problem is not None:
                        raise bad(problem)
                return list(items)
            raise bad(f"must be {self.allowed()}, e.g. q_proj,v_proj or all-linear; got {value!r}")
        if self.kind == "int_list":
            return self._int_list(value, bad)
        if not isinstance(value, str):
            raise bad(f"must be text; got {value!r}")
        problem = control_problem(value)
        if problem is not None:
            raise bad(problem)
        return value

    def _number(self, value: Any, bad: Callable[[str], FieldError]) -> int | float:
        if isinstance(value, str):
            number = _parse_number(value, self.kind == "int")
            if number is None:
                raise bad(f"must be {self.allowed()}; got {value!r}")
            value = number
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad(f"must be {self.allowed()}; got {value!r}")
        if isinstance(value, int) and abs(value) > MAX_INT:  # also before isfinite, which overflows on it
            raise bad(f"must be {self.allowed()}; got a {len(str(abs(value)))}-digit number")
        if not math.isfinite(value):
            raise bad(f"must be a finite number; got {value!r}")
        if self.kind == "int":
            if not float(value).is_integer():
                raise bad(f"must be an integer; got {value!r}")
            if abs(value) > MAX_INT:
                raise bad(f"must be at most {MAX_INT:.0e} in size; got {value:.3g}")
            value = int(value)
        else:
            value = float(value)
        if (
            (self.low is not None and (value <= self.low if self.low_open else value < self.low))
            or (self.high is not None and (value >= self.high if self.high_open else value > self.high))
        ) and value not in self.also:
            raise bad(f"must be {self.allowed()}; got {value!r}")
        return value

    def _int_list(self, value: Any, bad: Callable[[str], FieldError]) -> list[int]:
        items = value
        if isinstance(value, str):
            items = [_parse_number(t, True) for t in re.split(r"[,\s]+", value.strip().strip("[]")) if t]
        top = MAX_INT if self.high is None else self.high
        if isinstance(items, (list, tuple)) and all(_whole(v) and 0 <= v <= top for v in items):
            return [int(v) for v in items]
        raise bad(f"must be {self.allowed()}; got {value!r}")


def _parse_number(text: str, integer: bool) -> int | float | None:
    """'2000', '1e3', '0.1' as a number (1e3 counts as an integer); None when it is not one."""
    try:
        return int(text.strip()) if integer else float(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if integer and number.is_integer() else number


def _whole(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and float(v).is_integer()


def _to_dict(value: Any, bad: Callable[[str], FieldError]) -> dict:
    if isinstance(value, str):
        try:
            value = load_json(value) if value.strip() else {}
        except DocumentError as exc:
            raise bad(str(exc)) from None
    if not isinstance(value, dict):
        raise bad(f"must be a JSON object ({{...}}); got {value!r}")
    return dict(value)
