"""The README's "Use" commands, run exactly as written, from the root of a copy of the repository.

The copy gets a concept-changed data version, so the retrain finds an improved candidate and the
registry has a ``challenger`` for the promotion line. Each line runs in bash after
``source .venv/bin/activate`` (the copy's ``.venv`` is a link to ours), as a person types it.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
import requests

from ml_model.paths import REPO_ROOT
from mlops.paths import EXPERIMENT_NAME
from mlops.sidecar.simulator import simulate
from tests.support.ports import wait_http
from tests.support.procs import stop_group
from tests.support.repo import Repo, make_repo

pytestmark = pytest.mark.slow


def use_block() -> list[str]:
    """The command lines of the first bash block under "### Use", comments stripped."""
    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index("### Use") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README.md has no bash block under '### Use'"
    lines = [re.sub(r"\s+#\s.*$", "", line).strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_the_block_holds_the_commands_people_type() -> None:
    lines = use_block()
    assert lines[0] == "source .venv/bin/activate"
    assert "python mlops/scripts/retrain_model.py" in lines
    assert "dvc repro mlops/dvc.yaml" in lines
    assert any(
        line.startswith("MLFLOW_ALLOW_FILE_STORE=true mlflow ui") and "--port 5001" in line for line in lines
    )


def _bash(repo: Repo, line: str, **kw: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", f"source .venv/bin/activate && {line}"],
        cwd=repo.root,
        env=repo.env,
        capture_output=True,
        text=True,
        timeout=600,
        **kw,
    )


def _ui_lists_our_runs(repo: Repo, line: str) -> None:
    """Start the UI line as written, check its API shows our experiment's runs, stop it."""
    proc = subprocess.Popen(
        ["bash", "-c", f"source .venv/bin/activate && {line}"],
        cwd=repo.root,
        env=repo.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = "http://127.0.0.1:5001"
    try:
        wait_http(base + "/health", proc, timeout=120)
        exps = requests.get(
            base + "/api/2.0/mlflow/experiments/search", params={"max_results": 50}, timeout=10
        )
        ours = [e for e in exps.json()["experiments"] if e["name"] == EXPERIMENT_NAME]
        assert len(ours) == 1, exps.text
        runs = requests.post(
            base + "/api/2.0/mlflow/runs/search",
            json={"experiment_ids": [ours[0]["experiment_id"]]},
            timeout=10,
        ).json()["runs"]
        assert any(r["info"]["run_name"].startswith("retrain_") for r in runs)
    finally:
        stop_group(proc)


def test_every_use_line_works_as_written(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", rows=3000, epochs=8)
    simulate(20000, 12, drift="concept").to_csv(repo.data, index=False)
    (repo.root / ".venv").symlink_to(REPO_ROOT / ".venv")
    for line in use_block()[1:]:
        started = time.monotonic()
        if " mlflow ui " in f" {line} ":
            _ui_lists_our_runs(repo, line)
            continue
        r = _bash(repo, line)
        assert r.returncode == 0, f"`{line}` exited {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
        print(f"{line}: {time.monotonic() - started:.1f} s")
        if line.startswith("python mlops/scripts/retrain_model.py"):
            assert "Gate: IMPROVED" in r.stderr, r.stderr[-2000:]
        if line.startswith("dvc repro"):
            assert all(f"dvc.yaml:{s}'" in r.stdout for s in ("train", "evaluate", "monitor")), r.stdout
        if "--from-registry" in line:
            assert "Dry run: would archive production" in r.stderr, r.stderr[-2000:]
    assert not list(repo.root.glob("mlflow.db")) and not (repo.root / "mlruns").exists()
