"""lrexplorer: see and check the hyperparameters of language-model fine-tuning."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lrexplorer")
    except PackageNotFoundError:
        pass
    # A source checkout used without installing it (PYTHONPATH=.): the version its pyproject.toml declares.
    import re
    from pathlib import Path

    try:
        text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return "0+unknown"
    found = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return found.group(1) if found else "0+unknown"


__version__ = _version()
