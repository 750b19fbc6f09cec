"""Verify or re-sign an artifact set, and show the signing key: the commands key rotation needs.

``verify`` checks a set as the service would load it (signature, hashes, safe unpickling).
``resign`` re-signs a set that verifies now with the configured key (``MODEL_SIGNING_KEY``,
``MODEL_SIGNING_KEY_FILE`` or this machine's key): the step of a rotation, never a way to vouch
for an unverified set. ``public-key`` writes the signing key's public half as ``<key id>.pub``
into a folder (by default ``keys/local/trusted/``), to be committed into ``keys/trusted/``.
Exit 0 on success, 2 when the set or the key is refused. See keys/README.md.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ml_model.artifacts import ManifestError, load_model
from ml_model.common import setup_logging
from ml_model.paths import LOCAL_TRUSTED_KEYS_DIR, ML_MODEL_DIR
from ml_model.signing import SignatureError, key_id, sign_set, signing_key, trust

log = logging.getLogger("sign_model")


def main(argv: list[str] | None = None) -> int:
    """Parse the command and run it; exit 2 when a set or key is refused."""
    parser = argparse.ArgumentParser(description="Verify or re-sign a model artifact set (keys/README.md).")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, what in (
        ("verify", "check a set as the service loads it"),
        ("resign", "re-sign a verified set"),
    ):
        cmd = sub.add_parser(name, help=what)
        cmd.add_argument(
            "folder", nargs="?", type=Path, default=ML_MODEL_DIR, help="the set (default ml_model/)"
        )
    pub = sub.add_parser("public-key", help="write the signing key's public key as <key id>.pub")
    pub.add_argument("--to", type=Path, default=LOCAL_TRUSTED_KEYS_DIR, help="folder to write it into")
    args = parser.parse_args(argv)
    setup_logging()
    try:
        if args.command == "public-key":
            key = signing_key()
            log.info(
                "Signing key %s: public key in %s.",
                key_id(key.public_key()),
                trust(key.public_key(), args.to),
            )
            return 0
        model = load_model(args.folder)
        log.info("Model %s in %s verifies.", model.version, args.folder)
        if args.command == "resign":
            sign_set(args.folder)
    except (ManifestError, SignatureError) as exc:
        log.error("Refused: %s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
