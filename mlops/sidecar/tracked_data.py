"""Make sure the DVC-tracked data are in the work tree after a fresh clone (``make data``).

Two files: the dataset (``mlops/data/matchmaking_dataset.csv``) and the fixed equity evaluation set
(``mlops/data/equity_eval.csv``). For each, in order: already present and matching its .dvc file
-> nothing to do; else ``dvc pull`` from the configured remote; else, when the .dvc file still
points at the first version, recreate it (the dataset: a copy of the production snapshot
``ml_model/matchmaking_dataset.csv``; the evaluation set: the seeded simulator, ``params.yaml``'s
``equity_eval``), check its md5 against the .dvc file and put it into the DVC cache. Anything else
is an error that says what to do.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from ml_model.common import atomic_write, file_digest
from ml_model.paths import PRODUCTION_DATA, REPO_ROOT
from mlops.paths import DATASET, DATASET_DVC_FILE, EQUITY_EVAL, EQUITY_EVAL_DVC_FILE
from mlops.sidecar.config import Params
from mlops.sidecar.dvc_remote import private_local_remote
from mlops.sidecar.simulator import simulate

log = logging.getLogger(__name__)
PULL_TIMEOUT_S = 300


def md5_file(path: Path) -> str:
    """DVC 3's hash of a file: the md5 of its bytes."""
    return file_digest(path, "md5")


def expected_md5(dvc_file: Path = DATASET_DVC_FILE) -> str:
    """The md5 a committed .dvc file names: the version this checkout expects."""
    return yaml.safe_load(dvc_file.read_text())["outs"][0]["md5"]


def dvc(*args: str) -> subprocess.CompletedProcess:
    """Run the venv's DVC from the repository root (bounded: a hung remote must not hang the job)."""
    exe = shutil.which("dvc") or str(Path(sys.executable).parent / "dvc")
    return subprocess.run([exe, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=PULL_TIMEOUT_S)


@dataclass(frozen=True)
class Tracked:
    """A DVC-tracked file, and how its first version is made again when no remote has it."""

    path: Path
    dvc_file: Path
    first_version: str  # said in messages
    recreate: Callable[[Path], None]  # writes the first version to the given (temporary) path


def _copy_snapshot(tmp: Path) -> None:
    shutil.copyfile(PRODUCTION_DATA, tmp)


def _simulate_eval_set(tmp: Path) -> None:
    recipe = Params.load().equity_eval
    simulate(recipe.rows, recipe.seed, balanced=True).to_csv(tmp, index=False)


TRACKED = (
    Tracked(DATASET, DATASET_DVC_FILE, f"a copy of {PRODUCTION_DATA.name}", _copy_snapshot),
    Tracked(
        EQUITY_EVAL,
        EQUITY_EVAL_DVC_FILE,
        "the simulator's balanced set (params.yaml: equity_eval)",
        _simulate_eval_set,
    ),
)


def _pull(item: Tracked, want: str) -> bool:
    log.info("Pulling %s from the DVC remote.", item.path.name)
    pulled = dvc("pull", str(item.dvc_file.relative_to(REPO_ROOT)))
    if pulled.returncode == 0 and item.path.is_file() and md5_file(item.path) == want:
        log.info("Pulled %s (md5 %s).", item.path, want)
        return True
    said = [x for x in (pulled.stderr + pulled.stdout).splitlines() if "ERROR" in x or "missing" in x.lower()]
    log.warning(
        "dvc pull did not bring %s: %s",
        item.path.name,
        said[0].strip() if said else f"exit {pulled.returncode}",
    )
    return False


def ensure(item: Tracked) -> str:
    """Returns how the file got there: 'present', 'pulled' or 'recreated'."""
    want, rel = expected_md5(item.dvc_file), item.path.relative_to(REPO_ROOT)
    if item.path.is_file() and md5_file(item.path) == want:
        log.info("%s is present and matches %s.", item.path, item.dvc_file.name)
        return "present"
    if item.path.is_file():
        raise RuntimeError(
            f"{item.path} differs from the version {item.dvc_file.name} names (md5 {want}); not overwriting it. "
            f"If it is a new version: `dvc add {rel}`, commit the .dvc file and `dvc push`. "
            f"To discard it: `dvc checkout --force {rel}.dvc`."
        )
    if _pull(item, want):
        return "pulled"
    atomic_write(item.path, item.recreate)
    if md5_file(item.path) != want:
        item.path.unlink()
        raise RuntimeError(
            f"{item.dvc_file} points at md5 {want}, which no reachable DVC remote holds and which is not the "
            f"first version ({item.first_version}). Configure the remote that holds it (dvc remote add / "
            "modify, see the README) and run `dvc pull`."
        )
    committed = dvc("commit", "--force", str(item.dvc_file.relative_to(REPO_ROOT)))
    if committed.returncode != 0:
        raise RuntimeError(f"dvc commit failed: {committed.stderr.strip()}")
    log.info(
        "Recreated %s from %s (md5 %s matches %s).", item.path, item.first_version, want, item.dvc_file.name
    )
    return "recreated"


def ensure_dataset() -> str:
    """The dataset and the equity evaluation set; returns how the dataset got there."""
    private_local_remote()
    how = ensure(TRACKED[0])
    ensure(TRACKED[1])
    return how
