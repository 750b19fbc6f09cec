"""What a hostile colleague with write access to the registry can do now: nothing that runs.

Clone A retrains into a shared file store; clone B (which trusts A's key, as production trusts
CI's) is the promoter. A pickle whose ``__reduce__`` runs a shell command is planted in the
registered challenger, its sha256 rewritten in the manifest beside it, then signed by a stranger's
key; a candidate the gate rejected is aliased ``challenger`` by hand. Each promotion path refuses
them, names the file, runs no code, and leaves production and ``champion`` exactly as they were.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
from pathlib import Path

import joblib
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mlflow.tracking import MlflowClient

from ml_model.paths import ENCODER_FILE, MANIFEST_FILE, ML_MODEL_DIR
from ml_model.signing import sign_set
from mlops.paths import REGISTERED_MODEL
from mlops.sidecar.simulator import simulate
from tests.support.repo import Repo, make_repo


class Payload:
    """Touches a marker file when unpickled: proof that code from the artifact ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def _client(uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _set_folder(client: MlflowClient, version: str) -> Path:
    """Where a registered version's artifact set lives in the file store (what a colleague edits)."""
    mv = client.get_model_version(REGISTERED_MODEL, version)
    location = client.get_logged_model(mv.model_id).artifact_location
    return Path(location.removeprefix("file://")) / "artifacts"


def _plant(folder: Path, marker: Path) -> None:
    """The attack of the issue: a hostile encoder that still works, its sha256 rewritten."""
    buf = io.BytesIO()
    joblib.dump([Payload(marker), joblib.load(ML_MODEL_DIR / ENCODER_FILE)], buf)
    (folder / ENCODER_FILE).write_bytes(buf.getvalue())
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["artifacts"][ENCODER_FILE] = hashlib.sha256(buf.getvalue()).hexdigest()
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))


@pytest.fixture
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Repo, Repo, str]:
    """A retrained an improved challenger into the shared store; B trusts A's key. This process
    reads the store with its own client (``_client``)."""
    uri = (tmp_path / "shared-store").as_uri()
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    a = make_repo(tmp_path / "a", rows=3000, epochs=8)
    b = make_repo(tmp_path / "b", rows=3000, epochs=8)
    a.env, b.env = {**a.env, "MLFLOW_TRACKING_URI": uri}, {**b.env, "MLFLOW_TRACKING_URI": uri}
    simulate(20000, 12, drift="concept").to_csv(a.data, index=False)
    r = a.script("retrain_model.py")
    assert r.returncode == 0 and "Gate: IMPROVED" in r.stderr, r.stderr[-2000:]
    b.trust_signer(a)
    return a, b, uri


def _state(b: Repo, client: MlflowClient) -> tuple[dict, str]:
    champion = client.get_model_version_by_alias(REGISTERED_MODEL, "champion")
    return b.tree_digest("ml_model"), str(champion.version)


@pytest.mark.slow
def test_a_hostile_pickle_in_the_registry_is_refused_everywhere_and_runs_nothing(
    shared: tuple[Repo, Repo, str], tmp_path: Path
) -> None:
    _a, b, uri = shared
    client = _client(uri)
    version = str(client.get_model_version_by_alias(REGISTERED_MODEL, "challenger").version)
    folder = _set_folder(client, version)
    marker = tmp_path / "pwned"
    _plant(folder, marker)
    before = _state(b, client)

    for args in (("--from-registry", "--dry-run"), ("--from-registry",), ("--from-registry", version)):
        r = b.script("promote_model.py", *args)
        assert r.returncode == 2, r.stderr[-1500:]
        assert "signature.json: the signature by key" in r.stderr and "does not match" in r.stderr
    # the same set as a candidate folder (--version), and re-signed by a key nobody trusts
    cand = b.root / "mlops" / "models" / "v20990101_000000"
    shutil.copytree(folder, cand)
    r = b.script("promote_model.py", "--version", cand.name)
    assert r.returncode == 2 and f"{cand}/signature.json" in r.stderr, r.stderr[-1500:]
    stranger = Ed25519PrivateKey.generate()
    sign_set(cand, key=stranger)
    sign_set(folder, key=stranger)
    for args in (("--version", cand.name), ("--from-registry",), ("--from-registry", "--dry-run")):
        r = b.script("promote_model.py", *args)
        assert r.returncode == 2 and "which is not trusted here" in r.stderr, r.stderr[-1500:]
    r = b.script("doctor.py")
    assert r.returncode != 0 and "alias 'challenger'" in r.stderr and "not trusted" in r.stderr, r.stderr[
        -1500:
    ]

    assert not marker.exists()  # no code from the artifact ran, in any of them
    assert _state(b, client) == before
    assert [p.name for p in (b.root / "mlops" / "models").iterdir()] == [cand.name]  # nothing downloaded


REGISTER = """
import sys, mlflow
from mlops.mlflow_setup import configure
from mlops.paths import EXPERIMENT_NAME, REGISTERED_MODEL
configure()
client, run_id = mlflow.tracking.MlflowClient(), sys.argv[1]
exp = client.get_experiment_by_name(EXPERIMENT_NAME)
(logged,) = [m for m in client.search_logged_models([exp.experiment_id]) if m.source_run_id == run_id]
mv = mlflow.register_model(logged.model_uri, REGISTERED_MODEL)
client.set_registered_model_alias(REGISTERED_MODEL, "challenger", mv.version)
print(mv.version)
"""


def _register_rejected(b: Repo) -> str:
    """B's own retrain, which the gate rejects, registered and aliased challenger by hand (in B's
    environment: MLflow keeps one tracking URI per process)."""
    r = b.script("retrain_model.py")
    assert r.returncode == 0 and "Gate: not improved" in r.stderr, r.stderr[-2000:]
    run_id = json.loads((b.root / "mlops" / "tracking" / "last_retrain.json").read_text())["run_id"]
    r = b.run(sys.executable, "-c", REGISTER, run_id)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_a_rejected_candidate_needs_force_and_a_reason_which_are_recorded(
    shared: tuple[Repo, Repo, str],
) -> None:
    _a, b, uri = shared
    client = _client(uri)
    version = _register_rejected(b)
    before = _state(b, client)
    for args in (("--from-registry", "--dry-run"), ("--from-registry",), ("--from-registry", "--force")):
        r = b.script("promote_model.py", *args)
        assert r.returncode == 2, r.stderr[-1500:]
        assert "gate's decision is 'rejected'" in r.stderr or "--force needs --reason" in r.stderr
    assert _state(b, client) == before

    reason = "the equity review signed off on ticket 42"
    r = b.script("promote_model.py", "--from-registry", "--force", "--reason", reason)
    assert r.returncode == 0, r.stderr[-2000:]
    mv = client.get_model_version(REGISTERED_MODEL, version)
    assert reason in mv.description
    assert reason in client.get_run(mv.run_id).data.tags["forced_promotion"]
    (archive,) = (b.root / "mlops" / "models" / "archive").iterdir()
    assert json.loads((archive / "archive.json").read_text())["forced_reason"] == reason
    assert str(client.get_model_version_by_alias(REGISTERED_MODEL, "champion").version) == version

    r = b.script("promote_model.py", "--rollback")  # restores the archived set, byte for byte
    assert r.returncode == 0, r.stderr[-1500:]
    assert b.tree_digest("ml_model") == before[0]
