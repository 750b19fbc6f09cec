"""Kill -9 at every kind of write, then the next run repairs and doctor.py says consistent.

SIGKILL comes just before every rename of a retrain (staging, MLflow artifacts, logged model,
registry, the candidate's rename; an in-process hook, tests/support/killhook) and of a promotion,
and at four of a rollback (archive, journal, each file of the swap, the archive's commit mark;
strace's fault injection at the system call); two retrains are killed after random delays.
After each kill the next retrain or promotion (or ``doctor.py --fix``, the same repairs) runs, and
the consistency check (``doctor.py``; ``promote_model.py --check`` runs it in the same process)
must pass: production verifies, no debris, no unfinished run or logged model, and every alias
names a verified version.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ml_model.paths import REGISTERED_MODEL
from mlops.scripts.generate_data import simulate
from tests.support.repo import Repo, make_repo

KILLHOOK = Path(__file__).resolve().parents[1] / "support" / "killhook"

pytestmark = pytest.mark.slow

STRACE = shutil.which("strace")
if STRACE is None:
    if os.environ.get("CI"):
        raise RuntimeError(
            "strace is not installed: CI must run the Makefile's test target, which installs it"
        )
    pytest.skip("strace is not installed (the Makefile's test target installs it)", allow_module_level=True)


def killed_at(repo: Repo, k: int, *args: str) -> subprocess.CompletedProcess:
    """Run a sidecar script under strace, killed by SIGKILL at its k-th rename."""
    cmd = [STRACE, "-f", "-qq", "-o", "/dev/null", "-e", "trace=rename",
           "-e", f"inject=rename:signal=KILL:when={k}", sys.executable, *args]  # fmt: skip
    return repo.run(*cmd, timeout=300)


def renames(repo: Repo, *args: str) -> int:
    """How many renames a clean run makes (what the kill points are chosen from)."""
    out = repo.root.parent / "renames.txt"
    r = repo.run(
        STRACE, "-f", "-qq", "-o", str(out), "-e", "trace=rename", sys.executable, *args, timeout=300
    )
    assert r.returncode == 0, r.stderr[-1500:]
    return sum(" = 0" in line for line in out.read_text().splitlines())


def assert_consistent(repo: Repo, after: str) -> None:
    r = repo.script("doctor.py")
    assert r.returncode == 0, f"after {after}:\n{r.stderr[-2500:]}"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """A copy whose data is a concept change, so every retrain saves and registers a candidate."""
    repo = make_repo(tmp_path_factory.mktemp("crash") / "repo", rows=3000, epochs=8)
    simulate(12000, 19, drift="concept").to_csv(repo.data, index=False)
    return repo


def hooked(repo: Repo, **variables: str) -> dict[str, str]:
    """The copy's environment with the in-process kill hook (tests/support/killhook) first on the path."""
    return {**repo.env, **variables, "PYTHONPATH": f"{KILLHOOK}{os.pathsep}{repo.env['PYTHONPATH']}"}


def drop_champion(repo: Repo) -> None:
    """Remove alias ``champion`` (the state of a registry before its first retrain)."""
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    uri = (repo.root / "mlops" / "tracking").as_uri()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    with contextlib.suppress(MlflowException):  # none to remove
        client.delete_registered_model_alias(REGISTERED_MODEL, "champion")


def test_kills_during_retrain(repo: Repo) -> None:
    """Every rename of a retrain. The hook kills in-process: strace stops at each of the ~100,000
    system calls of a TensorFlow import, which made each kill cost 20-30 s instead of 8."""
    script = str(repo.root / "mlops/scripts/retrain_model.py")
    assert repo.script("retrain_model.py").returncode == 0
    # Each run starts as the first ever does, with no champion, so its renames include registering
    # production as champion (ensure_champion), not only the candidate's.
    drop_champion(repo)
    listing = repo.root.parent / "retrain-renames.txt"
    r = subprocess.run([sys.executable, script], env=hooked(repo, LEGALAID_COUNT_RENAMES=str(listing)),
                       cwd=repo.root, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-1500:]
    total = len(listing.read_text().splitlines())
    assert total >= 15, total
    kills = 0
    for k in range(1, total + 1):
        drop_champion(repo)
        r = subprocess.run([sys.executable, script], env=hooked(repo, LEGALAID_KILL_AT_RENAME=str(k)),
                           cwd=repo.root, capture_output=True, text=True, timeout=300)  # fmt: skip
        assert r.returncode == -9, f"rename {k} of {total} did not kill the retrain: {r.stderr[-800:]}"
        kills += 1
        # the next run repairs: a real retrain now and then, else doctor --fix (the same repairs),
        # which exits 0 only when the state is consistent afterwards
        if k % 8 == 1:
            assert repo.script("retrain_model.py").returncode == 0
            assert_consistent(repo, f"a kill at rename {k} of {total}, then a retrain")
        else:
            fixed = repo.script("doctor.py", "--fix")
            assert fixed.returncode == 0, f"after a kill at rename {k} of {total}:\n{fixed.stderr[-2500:]}"
    for delay in random.Random(7).sample([1.5, 3.0, 4.5, 6.0], 2):  # kills at random moments
        proc = subprocess.Popen([sys.executable, script], env=repo.env, cwd=repo.root,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(delay)
        proc.kill()
        proc.wait()
        kills += 1
        fixed = repo.script("doctor.py", "--fix")
        assert fixed.returncode == 0, f"after a kill after {delay} s:\n{fixed.stderr[-2500:]}"
    print(f"retrain: {kills} kills survived ({total} renames in a clean run)")


def test_kills_during_promotion_and_rollback(repo: Repo) -> None:
    if not list((repo.root / "mlops/models").glob("v*")):
        r = repo.script("retrain_model.py")
        assert r.returncode == 0 and "Gate: IMPROVED" in r.stderr, r.stderr[-1500:]
    cand = sorted((repo.root / "mlops/models").glob("v*"))[-1].name
    promote = [str(repo.root / "mlops/scripts/promote_model.py"), "--version", cand]
    rollback = [str(repo.root / "mlops/scripts/promote_model.py"), "--rollback"]
    before = repo.tree_digest("ml_model")
    total = renames(repo, *promote)
    assert repo.script("promote_model.py", "--rollback").returncode == 0
    assert repo.tree_digest("ml_model") == before
    kills = 0
    for k in range(1, total + 1):
        r = killed_at(repo, k, *promote)
        kills += r.returncode != 0
        # the next promotion repairs, promotes, then checks consistency in the same process
        nxt = repo.script("promote_model.py", "--version", cand, "--check")
        assert nxt.returncode == 0, f"a promotion killed at rename {k} of {total}:\n{nxt.stderr[-2500:]}"
        if k in (1, 3, total - 2, total):  # rollbacks: a kill before, at and after the commit point
            r = killed_at(repo, k, *rollback)
            kills += r.returncode != 0
        nxt = repo.script("promote_model.py", "--rollback", "--check")
        assert nxt.returncode == 0, f"a rollback killed at rename {k} of {total}:\n{nxt.stderr[-2500:]}"
        assert repo.tree_digest("ml_model") == before, (
            f"a rollback killed at rename {k} restored the wrong set"
        )
    assert kills >= total + 3
    print(f"promote and rollback: {kills} kills survived ({total} renames in a clean promotion)")
