"""The data contract, published: every field the service scores, with its kind, vocabulary and range.

``ml_model/schema.py`` is the one source; this renders it as JSON into ``backend/lib/contract.json``,
which the backend reads for its vocabularies and limits, so the backend refuses with a 400 naming
the field whatever the service would refuse (an income of 10,000,001 is the client's mistake, not
"the match service is unavailable"), and the service's OpenAPI 3.1 description
(``ml_model/openapi.py``, served at ``GET /openapi.json``) into ``ml_model/openapi.json``.
``--check`` (run by the tests) fails when a committed file and the schema differ: regenerate
both with ``python ml_model/contract.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from ml_model import openapi
from ml_model.common import atomic_write_text, setup_logging
from ml_model.paths import REPO_ROOT
from ml_model.schema import CASE_FIELDS, FEATURE_FIELDS, LAWYER_FIELDS, PAIR_FIELDS, Field

BACKEND_CONTRACT = REPO_ROOT / "backend" / "lib" / "contract.json"
log = logging.getLogger(__name__)


def _field(f: Field) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": f.kind}
    if f.vocab:
        out["vocab"] = list(f.vocab)
    if f.min is not None:
        out["min"] = f.min
    if f.max is not None:
        out["max"] = f.max
    return out


def contract() -> dict[str, Any]:
    """The contract as plain data: each field's rule, and which fields describe the case, the lawyer, the pair."""
    return {
        "generated_from": "ml_model/schema.py (python ml_model/contract.py)",
        "fields": {f.name: _field(f) for f in FEATURE_FIELDS},
        "case_fields": [f.name for f in CASE_FIELDS],
        "lawyer_fields": [f.name for f in LAWYER_FIELDS],
        "pair_fields": [f.name for f in PAIR_FIELDS],
    }


def rendered() -> str:
    """The file's exact text (stable: sorted keys, one trailing newline)."""
    return json.dumps(contract(), indent=2, sort_keys=True) + "\n"


def _outputs(args: argparse.Namespace) -> list[tuple[Path, str]]:
    """Each generated file and the text it must hold."""
    return [(args.out, rendered()), (args.openapi_out, openapi.rendered())]


def main(argv: list[str] | None = None) -> int:
    """Write the contract and the OpenAPI description (atomically), or with --check say whether
    the committed ones are current."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=BACKEND_CONTRACT, help="where the backend's JSON goes")
    parser.add_argument(
        "--openapi-out", type=Path, default=openapi.OPENAPI_FILE, help="where the OpenAPI JSON goes"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a file differs from the schema")
    args = parser.parse_args(argv)
    setup_logging()
    if args.check:
        stale = [
            p for p, text in _outputs(args) if (p.read_text(encoding="utf-8") if p.is_file() else "") != text
        ]
        for path in stale:
            log.error("%s is out of date with ml_model/schema.py: run `python ml_model/contract.py`.", path)
        if not stale:
            log.info("%s and %s match ml_model/schema.py.", args.out, args.openapi_out)
        return 1 if stale else 0
    for path, text in _outputs(args):
        atomic_write_text(path, text)
        log.info("Wrote %s.", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
