"""The code's shape, checked: commands apart from the library, production apart from the sidecar,
no import cycle, and files small enough to read.

Imports are read with ``ast`` from every .py file under ml_model/ and mlops/, including imports
inside functions (a lazy import still ties two modules together), so a cycle cannot be hidden by
importing late.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

from ml_model.paths import REPO_ROOT

ROOTS = ("ml_model", "mlops", "clientdata")
# Folders of data and generated files, not code.
SKIP = {
    "__pycache__",
    "tracking",
    "models",
    "reports",
    "data",
    "plots",
    "dvc_plots",
    "node_modules",
    ".staging",
}
MAX_LINES = 300
# Files allowed over MAX_LINES, each with its reason. Keep it short: split a file rather than add it.
LONG_FILES: dict[str, str] = {
    "ml_model/request_validation.py": "one validator: the fast and slow checks of each field side by side, "
    "so a change to one is seen next to the other (the property tests prove they agree)",
}


def module_name(path: Path) -> str:
    """``mlops/sidecar/gate.py`` -> ``mlops.sidecar.gate``; a package's ``__init__.py`` is the package."""
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    """Every project module under ml_model/ and mlops/, by dotted name."""
    found = {}
    for root in ROOTS:
        for path in sorted((REPO_ROOT / root).rglob("*.py")):
            if not SKIP & set(path.relative_to(REPO_ROOT).parts):
                found[module_name(path)] = path
    return found


def _resolve(node: ast.ImportFrom, here: str, is_package: bool) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved against ``here``)."""
    if not node.level:
        return node.module or ""
    base = here.split(".") if is_package else here.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


@cache
def imports(name: str) -> frozenset[str]:
    """The project modules ``name`` imports anywhere in its file (module level and inside functions)."""
    path, known = modules()[name], modules()
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, name, path.name == "__init__.py")
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if target in known:  # ``from mlops.sidecar import gate``: the submodule itself
                    out.add(target)
                elif base in known:
                    out.add(base)
    out.discard(name)
    return frozenset(out)


def in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_import_reader_sees_the_project() -> None:
    """A guard for the guards: the reader finds the modules and their imports, lazy ones included."""
    names = modules()
    assert {"ml_model.paths", "mlops.paths", "mlops.scripts.retrain_model", "mlops.sidecar.retrain"} <= set(
        names
    )
    assert "mlops.sidecar.retrain" in imports("mlops.scripts.retrain_model")
    assert "mlops.pyfunc_model" in imports("mlops.sidecar.servable")  # imported inside a function


@pytest.mark.parametrize("name", [n for n in modules() if in_package(n, "mlops.scripts")])
def test_a_command_imports_no_other_command(name: str) -> None:
    """Commands are thin: their shared logic is the library (mlops.sidecar), not another command."""
    others = {m for m in imports(name) if in_package(m, "mlops.scripts")} - {"mlops.scripts.utils"}
    assert not others, (
        f"{name} imports the command(s) {sorted(others)}; move what they share to mlops/sidecar/"
    )


@pytest.mark.parametrize("name", [n for n in modules() if in_package(n, "mlops.sidecar")])
def test_the_library_never_imports_a_command(name: str) -> None:
    commands = {m for m in imports(name) if in_package(m, "mlops.scripts")}
    assert not commands, f"{name} imports {sorted(commands)}: the library must not depend on a command"


@pytest.mark.parametrize("name", [n for n in modules() if in_package(n, "ml_model")])
def test_production_never_imports_the_sidecar(name: str) -> None:
    sidecar = {m for m in imports(name) if in_package(m, "mlops")}
    assert not sidecar, f"{name} imports {sorted(sidecar)}: production must not depend on mlops/"


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in imports(v):
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
                found.append(sorted(component))

    for name in modules():
        if name not in index:
            visit(name)
    return found


def test_no_import_cycle_among_project_modules() -> None:
    """A cycle makes import order matter and hides which module owns what; lazy imports count too."""
    assert not _cycles(), f"import cycles (each a set of modules that import each other): {_cycles()}"


def test_the_cycle_finder_finds_a_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}
    monkeypatch.setattr(f"{__name__}.modules", lambda: dict.fromkeys(graph, Path()))
    monkeypatch.setattr(f"{__name__}.imports", graph.__getitem__)
    assert _cycles() == [["a", "b", "c"]]


@pytest.mark.parametrize("name", list(modules()))
def test_no_file_over_the_line_limit(name: str) -> None:
    path = modules()[name]
    rel = str(path.relative_to(REPO_ROOT))
    lines = len(path.read_text(encoding="utf-8").splitlines())
    if rel in LONG_FILES:
        return
    assert lines <= MAX_LINES, f"{rel} has {lines} lines (limit {MAX_LINES}): split it by concern"


def test_the_allow_list_names_only_long_files_that_exist() -> None:
    """An entry outlives its reason once the file is split: then it must go."""
    for rel in LONG_FILES:
        path = REPO_ROOT / rel
        assert path.is_file() and len(path.read_text(encoding="utf-8").splitlines()) > MAX_LINES, rel


UNSAFE_LOADERS = (
    "pyfunc.load_model",
    "joblib.load",
    "pickle.load",
    "pickle.loads",
    "enable_unsafe_deserialization",
)


@pytest.mark.parametrize("name", list(modules()))
def test_no_code_path_loads_an_artifact_with_a_loader_that_runs_its_code(name: str) -> None:
    """MLflow's pyfunc loader unpickles python_model.pkl, joblib and pickle run what a file says:
    every load of ours goes through ml_model.artifacts (signature, then the allow-list unpickler).
    ``safe_pickle`` subclasses joblib's unpickler, and training only *writes* with joblib."""
    path = modules()[name]
    calls = {
        f"{n.func.value.id}.{n.func.attr}"
        for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and isinstance(n.func.value, ast.Name)
    } | {
        f"{n.func.value.value.id}.{n.func.value.attr}.{n.func.attr}"
        for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and isinstance(n.func.value, ast.Attribute)
        and isinstance(n.func.value.value, ast.Name)
    }
    found = sorted(c for c in calls if c.endswith(UNSAFE_LOADERS))
    assert not found, f"{path.relative_to(REPO_ROOT)} calls {found}"
