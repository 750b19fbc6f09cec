"""Make sure the DVC-tracked dataset is in the work tree after a fresh clone.

Order: already present and matching its .dvc file -> nothing to do; else ``dvc pull`` from the
configured remote; else, when the .dvc file still points at the first version, recreate it from
the production snapshot ``ml_model/matchmaking_dataset.csv`` (the first version is a copy of it),
check its md5 against the .dvc file and put it into the DVC cache. Anything else is an error that
says what to do.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from ml_model.common import atomic_write, exit_script, file_digest, setup_logging
from ml_model.paths import DATASET, DATASET_DVC_FILE, PRODUCTION_DATA, REPO_ROOT

log = logging.getLogger(__name__)
DVC_FILE = DATASET_DVC_FILE  # the .dvc file that names the current data version
PULL_TIMEOUT_S = 300


def md5_file(path: Path) -> str:
    """DVC 3's hash of a file: the md5 of its bytes."""
    return file_digest(path, "md5")


def expected_md5(dvc_file: Path = DVC_FILE) -> str:
    """The md5 the committed .dvc file names: the data version this checkout expects."""
    return yaml.safe_load(dvc_file.read_text())["outs"][0]["md5"]


def dvc(*args: str) -> subprocess.CompletedProcess:
    """Run the venv's DVC from the repository root (bounded: a hung remote must not hang the job)."""
    exe = shutil.which("dvc") or str(Path(sys.executable).parent / "dvc")
    return subprocess.run([exe, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=PULL_TIMEOUT_S)


def ensure_dataset() -> str:
    """Returns how the dataset got there: 'present', 'pulled' or 'recreated'."""
    want = expected_md5()
    if DATASET.is_file() and md5_file(DATASET) == want:
        log.info("%s is present and matches %s.", DATASET, DVC_FILE.name)
        return "present"
    if DATASET.is_file():
        raise RuntimeError(
            f"{DATASET} differs from the version {DVC_FILE.name} names (md5 {want}); not overwriting it. "
            "If it is a new version: `dvc add mlops/data/matchmaking_dataset.csv`, commit the .dvc file and "
            "`dvc push`. To discard it: `dvc checkout --force mlops/data/matchmaking_dataset.csv.dvc`."
        )
    log.info("Pulling %s from the DVC remote.", DATASET.name)
    pulled = dvc("pull", str(DVC_FILE.relative_to(REPO_ROOT)))
    if pulled.returncode == 0 and DATASET.is_file() and md5_file(DATASET) == want:
        log.info("Pulled %s (md5 %s).", DATASET, want)
        return "pulled"
    said = [x for x in (pulled.stderr + pulled.stdout).splitlines() if "ERROR" in x or "missing" in x.lower()]
    log.warning(
        "dvc pull did not bring the data: %s", said[0].strip() if said else f"exit {pulled.returncode}"
    )
    if md5_file(PRODUCTION_DATA) != want:
        raise RuntimeError(
            f"{DVC_FILE} points at md5 {want}, which no reachable DVC remote holds and which is not the "
            f"first version ({PRODUCTION_DATA}). Configure the remote that holds it (dvc remote add / "
            "modify, see the README) and run `dvc pull`."
        )
    atomic_write(DATASET, lambda p: shutil.copyfile(PRODUCTION_DATA, p))
    if md5_file(DATASET) != want:
        DATASET.unlink()
        raise RuntimeError(f"recreated {DATASET} does not match {DVC_FILE}")
    committed = dvc("commit", "--force", str(DVC_FILE.relative_to(REPO_ROOT)))
    if committed.returncode != 0:
        raise RuntimeError(f"dvc commit failed: {committed.stderr.strip()}")
    log.info("Recreated %s from %s (md5 %s matches %s).", DATASET, PRODUCTION_DATA, want, DVC_FILE.name)
    return "recreated"


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and make sure the dataset is there; exit 1 with what to do otherwise."""
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    setup_logging()
    try:
        ensure_dataset()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    exit_script(main())
