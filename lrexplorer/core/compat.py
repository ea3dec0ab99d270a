"""The library versions lrexplorer's code supports, and a refusal, at the point of use, of one outside them.

Some code depends on a library's internals rather than its public API: accelerate's `fsdp2_prepare_model`
(the FSDP2 simulation), `Trainer.create_optimizer` run on a stand-in (transformers), TRL's fused LM head,
PyTorch's memory trackers and fake process group, DeepSpeed's shared-memory op. A new release can change
those without notice, so pyproject.toml gives each an upper bound, and this module reads the ranges from
there, so that they are written once. `require` compares the installed version with the range and raises
`UnsupportedVersion`, whose message names the package, the version found, the range and the pip command;
`uses_internals` also turns an AttributeError, TypeError or ImportError from inside such a call into it, so a
release inside the range that still changed what we rely on says so instead of ending in a traceback.

Light on purpose (no torch): the CLI and the analytic engine import it.
"""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import Iterator, Mapping
from functools import lru_cache
from importlib import metadata
from types import MappingProxyType

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from lrexplorer.core.resources import SOURCE_ROOT

DISTRIBUTION = "lrexplorer"


class UnsupportedVersion(RuntimeError):
    """An installed library that lrexplorer's code does not work with: outside the supported range, or
    inside it but with internals that changed. The message is one line, for the CLI and the pages as is."""


def _pyproject_requirements() -> list[str] | None:
    """The requirement strings of the pyproject.toml beside this package (a source checkout, editable or on
    PYTHONPATH), or None when there is none or it is another project's."""
    path = SOURCE_ROOT / "pyproject.toml"
    try:
        project = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if project.get("name") != DISTRIBUTION:
        return None
    extras = project.get("optional-dependencies", {})
    return [*project.get("dependencies", []), *(r for group in extras.values() for r in group)]


def declared_requirements() -> list[str]:
    """lrexplorer's own requirements (dependencies and extras), as pyproject.toml declares them.

    The checkout's pyproject.toml comes first: an editable install's metadata is written when it is installed
    and goes stale when pyproject.toml changes (or names another checkout than the one imported). An installed
    wheel has no pyproject.toml beside it, and its metadata is the pyproject.toml it was built from."""
    found = _pyproject_requirements()
    if found is None:
        try:
            found = metadata.requires(DISTRIBUTION) or []
        except metadata.PackageNotFoundError:
            found = []
    return found


@lru_cache(maxsize=1)
def declared_ranges() -> Mapping[str, SpecifierSet]:
    """Each declared package's range, by its canonical name (read once: the analytic engine asks per estimate)."""
    out: dict[str, SpecifierSet] = {}
    for text in declared_requirements():
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        name = canonicalize_name(req.name)
        # Markers (platform, extra) only say where a package is installed; its range is the same everywhere.
        out[name] = out.get(name, SpecifierSet()) & req.specifier
    return MappingProxyType(out)


def supported_range(package: str) -> SpecifierSet:
    """The versions of `package` that lrexplorer declares it supports; LookupError when it declares none
    (a bug: every package whose internals the code uses is declared with its range)."""
    try:
        return declared_ranges()[canonicalize_name(package)]
    except KeyError:
        raise LookupError(f"{package} is not among lrexplorer's declared requirements (pyproject.toml)") from None


def range_text(spec: SpecifierSet) -> str:
    """`spec` as pyproject.toml writes it, lower bound first (">=1.15,<1.17"); str() would sort it "<1.17,>=1.15"."""
    return ",".join(sorted((str(s) for s in spec), key=lambda s: (s.startswith(("<", "!")), s)))


def installed_version(package: str) -> str | None:
    """The installed distribution's version (from its metadata; the package is not imported), or None."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def in_range(version: str, spec: SpecifierSet) -> bool:
    """Whether `version` is in `spec`, by its public version (PyTorch's "2.13.0+cpu" is 2.13.0); a pre-release
    that is installed is judged like any other version, an unparsable one is outside."""
    try:
        public = Version(version).public
    except InvalidVersion:
        return False
    return spec.contains(public, prereleases=True)


def require(package: str, purpose: str, uses: str = "") -> str:
    """Refuse, with `UnsupportedVersion`, an installed `package` outside its supported range; its version when
    inside. `purpose` is what needs it ("the FSDP2 simulation"), `uses` what it relies on, for the message."""
    spec = supported_range(package)
    found = installed_version(package)
    if found is not None and in_range(found, spec):
        return found
    text = range_text(spec)
    why = f" ({uses})" if uses else ""
    state = f"{package} {found} is installed" if found is not None else f"{package} is not installed"
    raise UnsupportedVersion(
        f"{state}, but {purpose} supports {package} {text}{why}; "
        f"install a supported version: pip install '{package}{text}'"
    )


@contextlib.contextmanager
def uses_internals(package: str, purpose: str, uses: str) -> Iterator[str]:
    """`require` the package, then run the block that calls its internals: an AttributeError, TypeError or
    ImportError (a moved function) raised in it becomes `UnsupportedVersion` naming the package, its version
    and the range (the original error chained, its text kept), so a release that moved what we rely on fails
    with a message.

    Keep the block to the library call: an AttributeError of our own code in it would be blamed on the library."""
    found = require(package, purpose, uses)
    try:
        yield found
    except (AttributeError, TypeError, ImportError) as exc:
        raise UnsupportedVersion(
            f"{purpose} failed inside {package} {found} ({uses}): {type(exc).__name__}: {exc}. "
            f"lrexplorer supports {package} {range_text(supported_range(package))}, but this release's internals "
            "differ from what lrexplorer expects: please report it, and meanwhile install another version "
            "in that range"
        ) from exc
