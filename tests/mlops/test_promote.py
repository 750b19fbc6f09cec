"""promote_model.py end to end: retrain, promote, roll back; refusals leave production untouched; a clone
that never trained promotes from a shared registry. The swap itself: tests/mlops/sidecar/test_swap.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops.paths import REGISTERED_MODEL
from mlops.sidecar.simulator import simulate
from tests.support.repo import Repo, make_repo, weaken_production
from tests.support.service import copy_artifacts


def _client(repo: Repo):
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    from mlflow.tracking import MlflowClient

    uri = (repo.root / "mlops" / "tracking").as_uri()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.mark.slow
def test_retrain_promote_and_rollback_end_to_end(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", rows=4000, epochs=15)
    weaken_production(repo)
    weak = repo.verify(repo.root / "ml_model")["model_version"]
    r = repo.script("retrain_model.py")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Gate: IMPROVED" in r.stderr, [
        x for x in r.stderr.splitlines() if "Gate" in x or "Candidate" in x or "Production" in x
    ]
    (cand,) = sorted((repo.root / "mlops" / "models").glob("v*"))
    manifest = repo.verify(cand)
    assert {"metrics.json", "manifest.json", "encoder.pkl", "scaler.pkl", "lawyer_match_model.h5"} <= {
        p.name for p in cand.iterdir()
    }
    client = _client(repo)
    challenger = client.get_model_version_by_alias(REGISTERED_MODEL, "challenger")
    assert str(challenger.version) == manifest["mlflow"]["registered_version"]
    first_champion = client.get_model_version_by_alias(REGISTERED_MODEL, "champion")  # from the first run
    assert first_champion.tags["model_version"] == weak and first_champion.version != challenger.version
    assert client.get_run(first_champion.run_id).info.run_name == f"production_{weak}"

    before = repo.tree_digest("ml_model")
    _refuses_sets_that_do_not_score_as_trained(repo, cand)
    assert repo.tree_digest("ml_model") == before
    r = repo.script("promote_model.py", "--version", cand.name, "--dry-run")
    assert r.returncode == 0 and "Dry run" in r.stderr
    assert repo.tree_digest("ml_model") == before

    r = repo.script("promote_model.py", "--version", cand.name)
    assert r.returncode == 0, r.stderr[-1500:]
    assert repo.verify(repo.root / "ml_model")["model_version"] == cand.name
    assert client.get_model_version_by_alias(REGISTERED_MODEL, "champion").version == challenger.version
    archives = [p for p in (repo.root / "mlops" / "models" / "archive").iterdir()]
    assert len(archives) == 1 and repo.verify(archives[0])["model_version"] == weak

    r = repo.script("promote_model.py", "--rollback")
    assert r.returncode == 0, r.stderr[-1500:]
    assert repo.verify(repo.root / "ml_model")["model_version"] == weak
    assert repo.tree_digest("ml_model") == before
    back = client.get_model_version_by_alias(REGISTERED_MODEL, "champion")  # production as first registered
    assert back.tags["model_version"] == weak and back.version == first_champion.version
    r = repo.script("promote_model.py", "--rollback")
    assert r.returncode == 2 and "nothing to roll back" in r.stderr


def _refuses_sets_that_do_not_score_as_trained(repo: Repo, cand: Path) -> None:
    """Junk or swapped weights whose sha256 was rewritten in the manifest: verified, yet refused."""
    import shutil

    from ml_model.common import sha256_file

    for name, h5 in (
        ("vbadjunk", b"not a keras file" * 100),
        ("vbadswap", (repo.root / "ml_model/lawyer_match_model.h5").read_bytes()),
    ):
        bad = repo.root / "mlops" / "models" / name
        shutil.copytree(cand, bad)
        (bad / "lawyer_match_model.h5").write_bytes(h5)
        manifest = json.loads((bad / "manifest.json").read_text())
        manifest["artifacts"]["lawyer_match_model.h5"] = sha256_file(bad / "lawyer_match_model.h5")
        (bad / "manifest.json").write_text(json.dumps(manifest))
        r = repo.script("promote_model.py", "--version", name)  # a tamperer: no trusted key
        assert r.returncode == 2 and "signature.json: the signature by key" in r.stderr, r.stderr[-1500:]
        sign = "import sys; from pathlib import Path; from ml_model.signing import sign_set; sign_set(Path(sys.argv[1]))"
        assert repo.run(sys.executable, "-c", sign, str(bad)).returncode == 0  # an insider: signed
        for extra in ((), ("--dry-run",)):
            r = repo.script("promote_model.py", "--version", name, *extra)
            assert r.returncode == 2 and "does not load and score as trained" in r.stderr, r.stderr[-1500:]
        shutil.rmtree(bad)


@pytest.mark.slow
def test_refusals_leave_production_untouched(repo: Repo, tmp_path: Path) -> None:
    before = repo.tree_digest("ml_model")
    r = repo.script("promote_model.py", "--version", "v20990101_000000")
    assert r.returncode == 2 and "no candidate" in r.stderr
    fake = repo.root / "mlops" / "models" / "v20990101_000001"
    copy_artifacts(fake)
    with open(fake / "encoder.pkl", "ab") as fh:
        fh.write(b"tampered")
    r = repo.script("promote_model.py", "--version", fake.name)
    assert r.returncode == 2 and "encoder.pkl" in r.stderr and "does not match" in r.stderr
    assert repo.tree_digest("ml_model") == before
    import shutil

    shutil.rmtree(fake)
    r = repo.script("promote_model.py", "--help")
    assert r.returncode == 0 and "--rollback" in r.stdout


@pytest.mark.slow
def test_a_clone_that_never_trained_promotes_from_a_shared_registry(tmp_path: Path) -> None:
    """Clone A retrains against a shared file store; clone B promotes the challenger from it."""
    store = {"MLFLOW_TRACKING_URI": (tmp_path / "shared-store").as_uri()}
    a = make_repo(tmp_path / "a", rows=3000, epochs=8)
    b = make_repo(tmp_path / "b", rows=3000, epochs=8)
    a.env, b.env = {**a.env, **store}, {**b.env, **store}
    simulate(20000, 12, drift="concept").to_csv(a.data, index=False)
    r = a.script("retrain_model.py")
    assert r.returncode == 0 and "Gate: IMPROVED" in r.stderr, r.stderr[-2000:]
    (cand,) = sorted((a.root / "mlops" / "models").glob("v*"))
    b.trust_signer(a)  # A's key is trusted where B serves, as CI's is in keys/trusted/

    before = b.tree_digest("ml_model")
    for ref, why in (
        ("nosuch", "no lawyer_match_model alias 'nosuch'"),
        ("99", "no lawyer_match_model version '99'"),
    ):
        r = b.script("promote_model.py", "--from-registry", ref)
        assert r.returncode == 2 and why in r.stderr, r.stderr[-1500:]
    unreachable = {**b.env, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}
    script = str(b.root / "mlops/scripts/promote_model.py")
    r = subprocess.run(
        [sys.executable, script, "--from-registry"],
        env=unreachable,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "unreachable" in r.stderr, r.stderr[-1500:]
    assert b.tree_digest("ml_model") == before

    # a dry run from the registry verifies in a private temp folder and leaves nothing behind
    mlops_before = b.tree_digest("mlops")
    r = b.script("promote_model.py", "--from-registry", "--dry-run")
    assert r.returncode == 0 and "Dry run: would archive production" in r.stderr, r.stderr[-2000:]
    assert b.tree_digest("ml_model") == before
    assert {k: v for k, v in b.tree_digest("mlops").items() if not k.startswith("tracking/")} == {
        k: v for k, v in mlops_before.items() if not k.startswith("tracking/")
    }
    assert not (b.root / "mlops" / "models").exists() or not list((b.root / "mlops" / "models").iterdir())

    r = b.script("promote_model.py", "--from-registry")
    assert r.returncode == 0, r.stderr[-2000:]
    served = b.tree_digest("ml_model")
    for name in ("lawyer_match_model.h5", "encoder.pkl", "scaler.pkl"):
        assert served[name] == a.tree_digest(f"mlops/models/{cand.name}")[name]
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    from mlflow.tracking import MlflowClient

    client = MlflowClient(
        tracking_uri=store["MLFLOW_TRACKING_URI"], registry_uri=store["MLFLOW_TRACKING_URI"]
    )
    champion = client.get_model_version_by_alias(REGISTERED_MODEL, "champion")
    assert champion.version == client.get_model_version_by_alias(REGISTERED_MODEL, "challenger").version
    assert b.verify(b.root / "ml_model")["mlflow"]["registered_version"] == str(champion.version)


@pytest.mark.slow
def test_versions_are_names_inside_mlops_models(repo: Repo) -> None:
    before = repo.tree_digest("ml_model")
    for bad in ("../../ml_model", "/tmp/elsewhere", "archive", "v1/../../x"):
        r = repo.script("promote_model.py", "--version", bad, "--dry-run")
        assert r.returncode == 2 and "is not a candidate name" in r.stderr, (bad, r.stderr[-800:])
    assert repo.tree_digest("ml_model") == before
