"""The data contract, published: every field the service scores, with its kind, vocabulary and range.

``ml_model/schema.py`` is the one source; this renders it as JSON into ``backend/lib/contract.json``,
which the backend reads for its vocabularies and limits, so the backend refuses with a 400 naming
the field whatever the service would refuse (an income of 10,000,001 is the client's mistake, not
"the match service is unavailable"). ``--check`` (run by the tests) fails when the committed file
and the schema differ: regenerate it with ``python ml_model/contract.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

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


def main(argv: list[str] | None = None) -> int:
    """Write the contract (atomically), or with --check say whether the committed one is current."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=BACKEND_CONTRACT, help="where the JSON goes")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs from the schema")
    args = parser.parse_args(argv)
    setup_logging()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != rendered():
            log.error(
                "%s is out of date with ml_model/schema.py: run `python ml_model/contract.py`.", args.out
            )
            return 1
        log.info("%s matches ml_model/schema.py.", args.out)
        return 0
    atomic_write_text(args.out, rendered())
    log.info("Wrote %s.", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
