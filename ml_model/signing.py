"""Signatures on artifact sets: a trust root that does not travel with the files it vouches for.

The manifest records each artifact's sha256, so signing the manifest signs the set. The signature
(``signature.json``, beside the manifest) is an Ed25519 signature over the manifest's canonical
JSON without its ``mlflow`` entry: the registry coordinates are added after the set is logged (a
version number cannot be known before), and they only point at the set, they are not part of it.

Verification trusts only public keys kept outside every artifact folder: the committed
``keys/trusted/*.pub`` (what production trusts on any machine) and the git-ignored
``keys/local/trusted/*.pub`` (keys made on this machine). ``MODEL_TRUSTED_KEYS`` (folders joined
by ``os.pathsep``) replaces both, e.g. a production host that trusts only the committed keys.

Signing uses ``MODEL_SIGNING_KEY`` (a PEM, as CI passes a secret), else ``MODEL_SIGNING_KEY_FILE``,
else the embedded default ``keys/local/signing.key``, made on first use (mode 0600 in a 0700
folder) with its public key added to the local trust list.

Why ``cryptography``'s Ed25519 and not OpenSSF ``model-signing``: the latter's offline key mode
takes EC keys only, its CLI needs an undeclared ``pyopenssl``, and it brings sigstore, tuf and
in-toto into the serving image; ``cryptography`` is already installed (MLflow needs it), and
importing it plus one verification costs about 25 ms at service start and nothing per request
(BENCHMARKS.md). The signed payload is the same idea as model-signing's bundle: every file's sha256.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_model.common import atomic_write_json
from ml_model.paths import (
    LOCAL_KEYS_DIR,
    LOCAL_SIGNING_KEY,
    LOCAL_TRUSTED_KEYS_DIR,
    MANIFEST_FILE,
    SIGNATURE_FILE,
    TRUSTED_KEYS_DIR,
)

log = logging.getLogger(__name__)

FORMAT = "legalaid-model-signature/1"
UNSIGNED_KEYS = ("mlflow",)  # registry coordinates, added after the set is logged


class SignatureError(ValueError):
    """A set is unsigned, or its signature is not by a trusted key or does not match: refuse it."""


def signed_payload(manifest: dict[str, Any]) -> bytes:
    """The bytes a signature covers: a format tag, then the manifest's canonical JSON."""
    body = {k: v for k, v in manifest.items() if k not in UNSIGNED_KEYS}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{FORMAT}\n{canonical}".encode()


def key_id(public_key: Any) -> str:
    """A short, stable name for a public key: the first 16 hex digits of the sha256 of its raw bytes."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def trusted_key_dirs() -> list[Path]:
    """Where the trusted public keys are: ``MODEL_TRUSTED_KEYS`` or the committed and local lists."""
    setting = os.environ.get("MODEL_TRUSTED_KEYS")
    if setting:
        return [Path(p) for p in setting.split(os.pathsep) if p]
    return [TRUSTED_KEYS_DIR, LOCAL_TRUSTED_KEYS_DIR]


def trusted_keys() -> dict[str, Any]:
    """Every trusted Ed25519 public key by key id; a file that is not one is named and skipped."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    keys: dict[str, Any] = {}
    for folder in trusted_key_dirs():
        for path in sorted(folder.glob("*.pub")) if folder.is_dir() else []:
            try:
                key = load_pem_public_key(path.read_bytes())
            except ValueError as exc:
                log.warning("Ignoring %s: not a PEM public key (%s).", path, exc)
                continue
            if not isinstance(key, Ed25519PublicKey):
                log.warning("Ignoring %s: not an Ed25519 key.", path)
                continue
            keys[key_id(key)] = key
    return keys


@dataclass(frozen=True)
class Verified:
    """Who signed a set: the trusted key's id."""

    key_id: str


def verify_signature(folder: Path, manifest: dict[str, Any]) -> Verified:
    """Check ``folder``'s signature over ``manifest`` against the trusted keys, or raise SignatureError
    naming the file and why."""
    from cryptography.exceptions import InvalidSignature

    path = folder / SIGNATURE_FILE
    if not path.is_file():
        raise SignatureError(f"{path}: the set is not signed; only signed sets are loaded")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        kid, signature = str(record["key_id"]), base64.b64decode(record["signature"], validate=True)
        if record.get("format") != FORMAT:
            raise ValueError(f"format {record.get('format')!r}, expected {FORMAT!r}")
    except (ValueError, KeyError, TypeError) as exc:
        raise SignatureError(f"{path}: not a signature record ({exc})") from exc
    key = trusted_keys().get(kid)
    if key is None:
        where = ", ".join(str(d) for d in trusted_key_dirs())
        raise SignatureError(
            f"{path}: signed by key {kid}, which is not trusted here (trusted keys: {where})"
        )
    try:
        key.verify(signature, signed_payload(manifest))
    except InvalidSignature:
        raise SignatureError(
            f"{path}: the signature by key {kid} does not match {folder / MANIFEST_FILE}; "
            "the set was changed after it was signed"
        ) from None
    return Verified(kid)


def _private_key_from_pem(pem: bytes, where: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SignatureError(
            f"{where}: not an unencrypted PEM private key ({exc.__class__.__name__})"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{where}: not an Ed25519 private key")
    return key


def public_pem(public_key: Any) -> bytes:
    """A public key as PEM (SubjectPublicKeyInfo), the form ``keys/trusted/*.pub`` holds."""
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write a new private key file, mode 0600 from its creation, appearing whole (link is atomic and
    refuses an existing file, so two first runs agree on one key)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def make_local_key() -> Any:
    """The embedded default's key: made once, 0600 in a 0700 folder outside every artifact folder,
    and its public key added to this machine's trust list."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    LOCAL_KEYS_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        _write_private(LOCAL_SIGNING_KEY, pem)
    except FileExistsError:  # another first run made it a moment ago: use that one
        return _private_key_from_pem(LOCAL_SIGNING_KEY.read_bytes(), str(LOCAL_SIGNING_KEY))
    trust(key.public_key(), LOCAL_TRUSTED_KEYS_DIR)
    log.info(
        "Made a signing key for this machine, %s (key id %s); only this machine trusts it. "
        "To let production elsewhere trust it, commit %s/%s.pub into %s/.",
        LOCAL_SIGNING_KEY,
        key_id(key.public_key()),
        LOCAL_TRUSTED_KEYS_DIR,
        key_id(key.public_key()),
        TRUSTED_KEYS_DIR,
    )
    return key


def trust(public_key: Any, folder: Path) -> Path:
    """Add a public key to a trust list folder as ``<key id>.pub``."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{key_id(public_key)}.pub"
    if not path.exists():
        path.write_bytes(public_pem(public_key))
    return path


def signing_key() -> Any:
    """The key sets are signed with: the CI secret, a key file, or this machine's own key."""
    pem = os.environ.get("MODEL_SIGNING_KEY")
    if pem:
        return _private_key_from_pem(pem.encode(), "MODEL_SIGNING_KEY")
    named = os.environ.get("MODEL_SIGNING_KEY_FILE")
    if named:
        try:
            return _private_key_from_pem(Path(named).read_bytes(), named)
        except OSError as exc:
            raise SignatureError(f"MODEL_SIGNING_KEY_FILE {named}: {exc.strerror}") from None
    if LOCAL_SIGNING_KEY.is_file():
        return _private_key_from_pem(LOCAL_SIGNING_KEY.read_bytes(), str(LOCAL_SIGNING_KEY))
    return make_local_key()


def sign_set(folder: Path, manifest: dict[str, Any] | None = None, key: Any | None = None) -> str:
    """Sign ``manifest`` (default: the one in ``folder``) into ``folder``'s signature file; returns
    the key id. Writers sign before they write a new manifest: a service reloads when the manifest
    changes, so the signature must already be there, and a crash in between leaves a set that is
    refused rather than one that loads."""
    key = key if key is not None else signing_key()
    if manifest is None:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    kid = key_id(key.public_key())
    record = {
        "format": FORMAT,
        "algorithm": "Ed25519",
        "key_id": kid,
        "model_version": manifest.get("model_version"),
        "signature": base64.b64encode(key.sign(signed_payload(manifest))).decode("ascii"),
    }
    atomic_write_json(folder / SIGNATURE_FILE, record)
    log.info("Signed model %s in %s with key %s.", manifest.get("model_version"), folder, kid)
    return kid
