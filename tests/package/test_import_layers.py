"""The package's folders are its layers, and imports go only downwards: a module imports modules of its own
top-level package or of a lower layer, never a higher one or a sibling on its level (cli and app). Every
import counts, at the top of a module or inside a function. And no two modules import each other, directly
or around a loop, anywhere in the package."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lrexplorer"

# Lowest first. The root (`lrexplorer/__init__.py`, `__main__.py`) is the entry point above them all.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),
    ("schedules",),
    ("catalogues",),
    ("rules",),
    ("memory",),
    ("tuning",),
    ("runs",),
    ("knowledge",),
    ("guide",),
    ("frontend",),
    ("cli", "app"),
)
LEVEL = {package: i for i, names in enumerate(LAYERS) for package in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py") if "assets" not in p.parts}


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import statements under `if TYPE_CHECKING:`: they name types for annotations and run never."""
    hidden = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return hidden


def imported(name: str, path: Path, runtime_only: bool = False) -> set[str]:
    """The lrexplorer modules `name` imports, wherever the import statement stands (with `runtime_only`, not
    counting those under `if TYPE_CHECKING:`)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_only(tree) if runtime_only else set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for dotted in targets:
            target = dotted
            while target and target not in MODULES:  # `import lrexplorer.x.y` counts as lrexplorer.x.y
                target = target.rpartition(".")[0]
            if target.startswith("lrexplorer") and target != name:
                found.add(target)
    return found


GRAPH = {name: imported(name, path) for name, path in MODULES.items()}
RUNTIME = {name: imported(name, path, runtime_only=True) for name, path in MODULES.items()}


def top_package(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] not in ("__main__",) else None


def test_every_top_level_package_has_a_layer():
    packages = {top_package(n) for n in MODULES} - {None}
    assert packages == set(LEVEL), "a new top-level package needs its place in LAYERS"


def test_the_package_root_holds_entry_points_only():
    root_modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert root_modules == ["__init__.py", "__main__.py"]


def test_imports_go_only_downwards():
    wrong = []
    for name, targets in GRAPH.items():
        mine = top_package(name)
        if mine is None:
            continue  # the entry points
        for target in targets:
            theirs = top_package(target)
            if theirs is None or (theirs != mine and LEVEL[theirs] >= LEVEL[mine]):
                wrong.append(f"{name} -> {target}")
    assert wrong == [], "imports upwards or sideways:\n" + "\n".join(sorted(wrong))


# Inside a package: the memory engines (analytic below the PyTorch-counted ones, advice on top of both), and
# the app's pages, each a subpackage that imports the shared parts (common, figures, the page registry) and
# no other page.
MEMORY_ORDER = ("analytic", "pytorch", "advice")
APP_PAGES = ("schedules", "memory", "train", "tune", "knowledge", "runs", "guide")


def _part(name: str, package: str) -> str | None:
    parts = name.split(".")
    return parts[2] if len(parts) > 3 and parts[1] == package else None


def test_memory_engines_and_app_pages_keep_their_order():
    wrong = []
    for name, targets in GRAPH.items():
        for target in targets:
            mine, theirs = _part(name, "memory"), _part(target, "memory")
            if (
                mine in MEMORY_ORDER
                and theirs in MEMORY_ORDER
                and MEMORY_ORDER.index(theirs) > MEMORY_ORDER.index(mine)
            ):
                wrong.append(f"{name} -> {target}")
            if name.startswith("lrexplorer.memory.") and mine is None and theirs in MEMORY_ORDER:
                wrong.append(f"{name} -> {target}")  # the package's own base (setup, results) is below all three
            page, other = _part(name, "app"), _part(target, "app")
            if other in APP_PAGES and page not in (other, "page_scripts"):  # a page script runs its page
                wrong.append(f"{name} -> {target}")
    assert wrong == [], "\n".join(sorted(wrong))


def test_no_import_cycles():
    """Tarjan's strongly connected components over the graph of imports that run (every statement but those
    under `if TYPE_CHECKING:`): every component must be one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in RUNTIME[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in RUNTIME:
        if v not in index:
            visit(v)
    assert cycles == [], "modules that import each other:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checks_see_imports_inside_functions():
    """The graph is built from every import statement, not only those at the top of a module."""
    assert "lrexplorer.core.hardware" in GRAPH["lrexplorer.runs.training.worker"]


def test_every_package_names_each_of_its_modules_in_its_docstring():
    missing = []
    for init in PACKAGE.rglob("__init__.py"):
        if "assets" in init.parts:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        folder = init.parent
        names = [p.stem for p in folder.glob("*.py") if p.name != "__init__.py"]
        names += [p.name for p in folder.iterdir() if (p / "__init__.py").is_file()]
        missing += [f"{module_name(init)}: {n}" for n in names if f"`{n}" not in doc]
    assert missing == [], "modules their package's docstring does not name:\n" + "\n".join(sorted(missing))


def test_no_module_is_over_400_lines():
    long = {module_name(p): n for p in MODULES.values() if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


def test_the_tests_mirror_the_layers_and_page_tests_are_named_one_way():
    tests = ROOT / "tests"
    folders = {p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    assert folders - {"helpers", "package", "bench"} <= set(LEVEL), folders
    assert not list(tests.glob("test_*.py")), "every test lives in the folder of the layer it tests"
    app_tests = [p.name for p in (tests / "app").glob("test_*.py")]
    assert all(n.startswith(("test_page_", "test_app_", "test_browser_")) for n in app_tests), app_tests
    assert not [p for p in tests.rglob("test_*page*.py") if p.parent.name != "app"]
