"""Signatures: the committed set verifies by a committed key alone, and nothing else loads."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ml_model import signing
from ml_model.artifacts import ManifestError, load_model
from ml_model.model_holder import ModelHolder
from ml_model.paths import MANIFEST_FILE, ML_MODEL_DIR, REPO_ROOT, SIGNATURE_FILE, TRUSTED_KEYS_DIR
from tests.support.service import copy_artifacts


def _pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_production_verifies_by_a_committed_key_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a fresh clone has: keys/trusted and no local key."""
    monkeypatch.setenv("MODEL_TRUSTED_KEYS", str(TRUSTED_KEYS_DIR))
    signed_by = json.loads((ML_MODEL_DIR / SIGNATURE_FILE).read_text())["key_id"]
    assert (TRUSTED_KEYS_DIR / f"{signed_by}.pub").is_file()
    assert load_model(ML_MODEL_DIR).version
    tracked = subprocess.run(
        ["git", "ls-files", "keys"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked and all(p.startswith("keys/trusted/") or p == "keys/README.md" for p in tracked), tracked


def test_a_set_resigned_with_an_untrusted_key_is_refused_naming_the_key(tmp_path: Path) -> None:
    d = copy_artifacts(tmp_path / "m")
    other = Ed25519PrivateKey.generate()
    kid = signing.sign_set(d, key=other)
    with pytest.raises(ManifestError, match=f"signed by key {kid}, which is not trusted here"):
        load_model(d)


@pytest.mark.parametrize("change", ["model_version", "metrics", "artifact"])
def test_any_change_to_what_was_signed_is_refused(tmp_path: Path, change: str) -> None:
    d = copy_artifacts(tmp_path / "m")
    manifest = json.loads((d / MANIFEST_FILE).read_text())
    if change == "model_version":
        manifest["model_version"] = "v_forged"
    elif change == "metrics":
        manifest["metrics"]["roc_auc"] = 0.99
    else:
        manifest["artifacts"]["scaler.pkl"] = "0" * 64
    (d / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match=r"signature\.json: the signature by key .* does not match"):
        load_model(d)


def test_the_registry_coordinates_are_outside_the_signature(tmp_path: Path) -> None:
    """They are added after a set is logged; they point at it and are not part of it."""
    d = copy_artifacts(tmp_path / "m")
    manifest = json.loads((d / MANIFEST_FILE).read_text())
    manifest["mlflow"] = {"run_id": "abc", "registered_version": "7"}
    (d / MANIFEST_FILE).write_text(json.dumps(manifest, indent=4))
    assert load_model(d).manifest["mlflow"]["registered_version"] == "7"


@pytest.mark.parametrize("record", ["missing", "garbage", "bad base64", "other format"])
def test_an_unsigned_or_unreadable_signature_is_refused(tmp_path: Path, record: str) -> None:
    d = copy_artifacts(tmp_path / "m")
    sig = d / SIGNATURE_FILE
    body = json.loads(sig.read_text())
    if record == "missing":
        sig.unlink()
    elif record == "garbage":
        sig.write_text("{")
    elif record == "bad base64":
        sig.write_text(json.dumps({**body, "signature": "!!"}))
    else:
        sig.write_text(json.dumps({**body, "format": "x/9"}))
    with pytest.raises(
        ManifestError, match=r"signature\.json: (the set is not signed|not a signature record)"
    ):
        load_model(d)


def test_the_service_holder_keeps_serving_when_a_set_is_resigned_by_a_stranger(tmp_path: Path) -> None:
    d = copy_artifacts(tmp_path / "model")
    holder = ModelHolder(d)
    model = holder.model
    manifest = json.loads((d / MANIFEST_FILE).read_text())
    manifest["model_version"] = "v_stranger"
    signing.sign_set(d, manifest, key=Ed25519PrivateKey.generate())
    (d / MANIFEST_FILE).write_text(json.dumps(manifest))
    assert holder.reload() is False and holder.model is model


def _local_paths(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    monkeypatch.setattr(signing, "LOCAL_KEYS_DIR", root / "local")
    monkeypatch.setattr(signing, "LOCAL_SIGNING_KEY", root / "local" / "signing.key")
    monkeypatch.setattr(signing, "LOCAL_TRUSTED_KEYS_DIR", root / "local" / "trusted")
    monkeypatch.setenv("MODEL_TRUSTED_KEYS", str(root / "local" / "trusted"))
    for name in ("MODEL_SIGNING_KEY", "MODEL_SIGNING_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)


def test_the_first_signing_makes_a_private_key_0600_in_a_0700_folder_and_trusts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _local_paths(monkeypatch, tmp_path / "keys")
    d = copy_artifacts(tmp_path / "m")
    kid = signing.sign_set(d)
    key_file = tmp_path / "keys" / "local" / "signing.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert (tmp_path / "keys" / "local" / "trusted" / f"{kid}.pub").is_file()
    assert load_model(d).version  # trusted by this machine's list
    assert signing.sign_set(d) == kid  # the same key the second time


def test_two_first_runs_at_once_agree_on_one_key(tmp_path: Path) -> None:
    """Each process races to make the key; link() lets one win and the other reads the winner's."""
    code = (
        "import sys; from pathlib import Path; from ml_model import signing as s; r = Path(sys.argv[1]);"
        "s.LOCAL_KEYS_DIR = r; s.LOCAL_SIGNING_KEY = r / 'signing.key'; s.LOCAL_TRUSTED_KEYS_DIR = r / 't';"
        "print(s.key_id(s.signing_key().public_key()))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODEL_SIGNING")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "k")], stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(4)
    ]
    ids = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(ids) == 1 and all(p.returncode == 0 for p in procs)
    assert [p.name for p in (tmp_path / "k").iterdir() if p.name.startswith(".")] == []


def test_a_key_from_the_environment_signs_and_a_bad_one_is_named_not_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _local_paths(monkeypatch, tmp_path / "keys")
    key = Ed25519PrivateKey.generate()
    monkeypatch.setenv("MODEL_SIGNING_KEY", _pem(key))
    d = copy_artifacts(tmp_path / "m")
    assert signing.sign_set(d) == signing.key_id(key.public_key())
    assert not (tmp_path / "keys" / "local" / "signing.key").exists()  # no local key made
    secret = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXNlY3JldC1zZWNyZXQ=\n-----END PRIVATE KEY-----\n"
    monkeypatch.setenv("MODEL_SIGNING_KEY", secret)
    with pytest.raises(signing.SignatureError, match="MODEL_SIGNING_KEY: not an unencrypted PEM") as err:
        signing.sign_set(d)
    assert "c2VjcmV0" not in str(err.value)
