"""The committed dvc.lock matches the code, and every stage lists the project code it runs.

A stale lock makes a fresh clone's `make run` leave `mlops/dvc.lock` modified (it runs every stage
anyway: the stages' marks are not committed); a missing dependency makes `dvc repro` skip a stage
whose code changed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from ml_model.common import file_digest
from ml_model.paths import REPO_ROOT
from mlops.paths import MLOPS_DIR

DVC_YAML = yaml.safe_load((MLOPS_DIR / "dvc.yaml").read_text())
DVC_LOCK = yaml.safe_load((MLOPS_DIR / "dvc.lock").read_text())
STAGES = sorted(DVC_YAML["stages"])


def module_file(name: str) -> Path | None:
    """The project file a dotted name refers to (a module, or a package's __init__.py), if any."""
    base = REPO_ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def project_imports(script: Path) -> set[Path]:
    """The project's own modules a script imports, followed transitively (third-party ones are not)."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found = [module_file(n) for n in names if n.split(".")[0] in ("ml_model", "mlops")]
            todo += [f for f in found if f is not None]
    return {p.resolve() for p in seen if p.name != "__init__.py"}


@pytest.mark.parametrize("stage", STAGES)
def test_lock_matches_the_code(stage: str) -> None:
    stale = []
    for dep in DVC_LOCK["stages"][stage]["deps"]:
        path = MLOPS_DIR / dep["path"]
        if (
            path.suffix in (".py", ".yaml", ".json")
            and path.is_file()
            and file_digest(path, "md5") != dep["md5"]
        ):
            stale.append(dep["path"])
    assert not stale, (
        f"mlops/dvc.lock is stale for stage {stage}: {stale}. Run `make run` (dvc repro) and commit mlops/dvc.lock."
    )
    assert [o["path"] for o in DVC_LOCK["stages"][stage]["outs"]] == [f"tracking/stage_{stage}.done"]


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_lists_the_code_it_imports(stage: str) -> None:
    spec = DVC_YAML["stages"][stage]
    commands = spec["cmd"] if isinstance(spec["cmd"], list) else [spec["cmd"]]
    scripts = [MLOPS_DIR / c.split()[2] for c in commands]  # "python -B scripts/x.py ..."
    listed = {(MLOPS_DIR / d).resolve() for d in spec["deps"]}
    imported = set().union(*(project_imports(s) for s in scripts))
    missing = sorted(str(p.relative_to(REPO_ROOT)) for p in imported - listed)
    assert not missing, f"stage {stage} runs code it does not list in mlops/dvc.yaml deps: {missing}"
