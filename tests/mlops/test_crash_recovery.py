"""Kill -9 at every kind of write, then the next run repairs and doctor.py says consistent.

SIGKILL comes just before every rename of a retrain (staging, MLflow artifacts, logged model,
registry, the candidate's rename), of a promotion and of a rollback (archive, journal, each file
of the swap, the archive's commit mark); two retrains are killed after random delays.
After each kill the next retrain or promotion (or ``doctor.py --fix``, the same repairs) runs, and
the consistency check (``doctor.py``; ``promote_model.py --check`` runs it in the same process)
must pass: production verifies, no debris, no unfinished run or logged model, and every alias
names a verified version.

The runs go through a fork server (tests/support/forkserver.py): the real scripts, each in a child
forked from a process that has already imported TensorFlow and MLflow, so a kill point costs the
command's work, not its imports. Each test has its own repository copy.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops.paths import REGISTERED_MODEL
from mlops.sidecar.simulator import simulate
from tests.support.forkserver import ForkServer, Result
from tests.support.repo import Repo, make_repo

# A hang guard, not a speed bound: the tests take a few minutes on a quiet machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """A copy whose data is a concept change, so every retrain saves and registers a candidate."""
    repo = make_repo(tmp_path / "repo", rows=3000, epochs=8)
    simulate(12000, 19, drift="concept").to_csv(repo.data, index=False)
    return repo


@pytest.fixture
def server(repo: Repo, tmp_path: Path) -> Iterator[ForkServer]:
    srv = ForkServer(repo.env, repo.root, tmp_path / "logs")
    yield srv
    srv.close()


def script(repo: Repo, name: str) -> str:
    return str(repo.root / "mlops" / "scripts" / name)


def ok(result: Result, after: str) -> None:
    assert result.returncode == 0, f"after {after}:\n{result.log[-2500:]}"


def count_renames(server: ForkServer, tmp_path: Path, *argv: str) -> int:
    """How many renames a clean run makes (what the kill points are chosen from)."""
    listing = tmp_path / f"renames-{server.runs}.txt"
    ok(server.run(*argv, count_file=listing), "a clean run")
    return len(listing.read_text().splitlines())


def drop_champion(repo: Repo) -> None:
    """Remove alias ``champion`` (the state of a registry before its first retrain)."""
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    uri = (repo.root / "mlops" / "tracking").as_uri()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    with contextlib.suppress(MlflowException):  # none to remove
        client.delete_registered_model_alias(REGISTERED_MODEL, "champion")


def test_kills_during_retrain(repo: Repo, server: ForkServer, tmp_path: Path) -> None:
    """Every rename of a retrain, then kills at random moments of a real process."""
    retrain, doctor = script(repo, "retrain_model.py"), script(repo, "doctor.py")
    ok(server.run(retrain), "the first retrain")
    # Each run starts as the first ever does, with no champion, so its renames include registering
    # production as champion (ensure_champion), not only the candidate's.
    drop_champion(repo)
    total = count_renames(server, tmp_path, retrain)
    assert total >= 15, total
    for k in range(1, total + 1):
        drop_champion(repo)
        killed = server.run(retrain, kill_at=k)
        assert killed.returncode == -9, f"rename {k} of {total} did not kill the retrain: {killed.log[-800:]}"
        # the next run repairs: a real retrain now and then, else doctor --fix (the same repairs),
        # which exits 0 only when the state is consistent afterwards
        if k % 8 == 1:
            ok(server.run(retrain), f"a kill at rename {k} of {total}, then a retrain")
            ok(server.run(doctor), f"a kill at rename {k} of {total}, then a retrain")
        else:
            ok(server.run(doctor, "--fix"), f"a kill at rename {k} of {total}")
    for delay in random.Random(7).sample([1.5, 3.0, 4.5, 6.0], 2):  # a real process, killed anywhere
        proc = subprocess.Popen(
            [sys.executable, retrain],
            env=repo.env,
            cwd=repo.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.kill()
        proc.wait()
        fixed = repo.script("doctor.py", "--fix")
        assert fixed.returncode == 0, f"after a kill after {delay} s:\n{fixed.stderr[-2500:]}"
    print(f"retrain: {total + 2} kills survived ({total} renames in a clean run)")


def test_kills_during_promotion_and_rollback(repo: Repo, server: ForkServer, tmp_path: Path) -> None:
    promote_script, doctor = script(repo, "promote_model.py"), script(repo, "doctor.py")
    retrained = server.run(script(repo, "retrain_model.py"))
    assert retrained.returncode == 0 and "Gate: IMPROVED" in retrained.log, retrained.log[-1500:]
    cand = sorted((repo.root / "mlops/models").glob("v*"))[-1].name
    promote, rollback = (promote_script, "--version", cand), (promote_script, "--rollback")
    before = repo.tree_digest("ml_model")
    total = count_renames(server, tmp_path, *promote)
    rollback_total = count_renames(server, tmp_path, *rollback)
    assert repo.tree_digest("ml_model") == before
    kills = 0
    for k in range(1, max(total, rollback_total) + 1):
        if k <= total:
            kills += server.run(*promote, kill_at=k).returncode == -9
        # the next promotion repairs, promotes, then checks consistency in the same process
        ok(server.run(*promote, "--check"), f"a promotion killed at rename {k} of {total}")
        after = f"a rollback killed at rename {k} of {rollback_total}"
        if k <= rollback_total:
            kills += server.run(*rollback, kill_at=k).returncode == -9
        again = server.run(*rollback, "--check")
        if again.returncode == 2 and "nothing to roll back" in again.log:
            # killed after its commit point: the files are back, and the doctor moves champion back
            ok(server.run(doctor, "--fix"), after)
        else:
            ok(again, after)
        assert repo.tree_digest("ml_model") == before, (
            f"a rollback killed at rename {k} restored the wrong set"
        )
    assert kills == total + rollback_total
    print(f"promote and rollback: {kills} kills survived ({total} + {rollback_total} renames)")
