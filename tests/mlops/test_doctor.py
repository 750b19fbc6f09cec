"""doctor.py sees the registry: champion on a model production does not serve, an alias on a version
that does not exist; ``--fix`` moves champion back to production and never promotes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlops.paths import REGISTERED_MODEL
from mlops.sidecar.simulator import simulate
from tests.support.repo import Repo, make_repo

pytestmark = pytest.mark.slow


@pytest.fixture
def retrained(tmp_path: Path) -> Repo:
    """A copy whose retrain on a concept change registered production (champion) and a challenger."""
    repo = make_repo(tmp_path / "repo", rows=3000, epochs=8)
    simulate(12000, 19, drift="concept").to_csv(repo.data, index=False)
    r = repo.script("retrain_model.py")
    assert r.returncode == 0 and "Gate: IMPROVED" in r.stderr, r.stderr[-1500:]
    return repo


def client(repo: Repo):
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    from mlflow.tracking import MlflowClient

    uri = (repo.root / "mlops" / "tracking").as_uri()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def aliases(repo: Repo) -> dict[str, str]:
    return dict(client(repo).get_registered_model(REGISTERED_MODEL).aliases)


def test_champion_moved_by_hand_is_found_and_fixed_without_promoting(retrained: Repo) -> None:
    before, production = aliases(retrained), retrained.tree_digest("ml_model")
    assert retrained.script("doctor.py").returncode == 0
    client(retrained).set_registered_model_alias(REGISTERED_MODEL, "champion", before["challenger"])
    r = retrained.script("doctor.py")
    assert r.returncode == 1, r.stderr[-1500:]
    assert f"alias 'champion' names version {before['challenger']}" in r.stderr
    assert "but production serves" in r.stderr
    fixed = retrained.script("doctor.py", "--fix")
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert aliases(retrained)["champion"] == before["champion"]
    assert retrained.tree_digest("ml_model") == production  # nothing promoted


def test_an_alias_on_a_version_that_does_not_exist_is_found_and_removed(retrained: Repo) -> None:
    alias_file = retrained.root / "mlops/tracking/models" / REGISTERED_MODEL / "aliases" / "challenger"
    alias_file.write_text("99")  # a hand edit of the file store
    r = retrained.script("doctor.py")
    assert r.returncode == 1
    assert "alias 'challenger' names version 99, which does not exist" in r.stderr
    assert retrained.script("doctor.py", "--fix").returncode == 0
    assert "challenger" not in aliases(retrained)
    assert retrained.script("doctor.py").returncode == 0
