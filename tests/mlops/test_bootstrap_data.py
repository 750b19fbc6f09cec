"""A fresh clone gets its data: dvc pull, or the first version recreated and checked."""

from __future__ import annotations

import shutil

import pytest

from tests.support.repo import Repo, make_repo

pytestmark = pytest.mark.slow


def test_recreate_from_the_snapshot_pull_from_the_remote_and_refuse_an_unknown_version(tmp_path) -> None:
    repo: Repo = make_repo(tmp_path / "repo", rows=300)
    # the copy's .dvc file points at a small dataset that is not the production snapshot
    shutil.rmtree(repo.root / ".dvc" / "cache", ignore_errors=True)
    repo.data.unlink()
    r = repo.script("bootstrap_data.py")
    assert r.returncode == 1 and "no reachable DVC remote holds" in r.stderr
    assert not repo.data.exists()
    # the first version is the production snapshot: recreated and checked against the .dvc md5
    shutil.copyfile(repo.root / "ml_model" / "matchmaking_dataset.csv", repo.data)
    assert repo.dvc("add", "-q", "data/matchmaking_dataset.csv").returncode == 0
    assert repo.dvc("push").returncode == 0
    shutil.rmtree(repo.root / ".dvc" / "cache")
    repo.data.unlink()
    r = repo.script("bootstrap_data.py")
    assert r.returncode == 0 and "Pulled" in r.stderr  # from the (local) remote
    remote = tmp_path / "repo-remote"
    shutil.rmtree(remote)
    shutil.rmtree(repo.root / ".dvc" / "cache")
    repo.data.unlink()
    r = repo.script("bootstrap_data.py")
    assert r.returncode == 0 and "Recreated" in r.stderr, r.stderr[-1500:]
    r = repo.script("bootstrap_data.py")
    assert r.returncode == 0 and "is present and matches" in r.stderr
    # the equity evaluation set: made again by the seeded simulator, and checked against its .dvc md5
    eval_set = repo.root / "mlops" / "data" / "equity_eval.csv"
    want = eval_set.read_bytes()
    eval_set.unlink()
    r = repo.script("bootstrap_data.py")
    assert r.returncode == 0 and "Recreated" in r.stderr and "equity_eval.csv" in r.stderr, r.stderr[-1500:]
    assert eval_set.read_bytes() == want
    assert repo.dvc("status").returncode == 0
