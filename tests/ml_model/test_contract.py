"""The published contract is the schema's: the committed JSON is current and the backend reads it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from ml_model import contract
from ml_model.paths import REPO_ROOT
from ml_model.schema import FEATURE_FIELDS


def test_the_committed_contract_is_current(tmp_path) -> None:
    assert contract.main(["--check"]) == 0, (
        "run `python ml_model/contract.py` and commit backend/lib/contract.json"
    )
    stale = tmp_path / "contract.json"
    stale.write_text(contract.rendered().replace('"max": 5', '"max": 6'))
    assert contract.main(["--check", "--out", str(stale)]) == 1
    r = subprocess.run([sys.executable, str(REPO_ROOT / "ml_model/contract.py"), "--out", str(stale)],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0 and stale.read_text() == contract.rendered()


def test_the_backend_reads_the_schemas_vocabularies_and_limits() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH")
    script = (
        "const v = require('./lib/vocab.js');"
        "const out = {};"
        "for (const f of Object.keys(v.CONTRACT.fields)) out[f] = v.CONTRACT.fields[f].vocab ? [...v.CONTRACT.fields[f].vocab] : v.limitsOf(f);"
        "out.case_type_const = [...v.CASE_TYPES]; out.lang_const = [...v.LANGUAGES];"
        "console.log(JSON.stringify(out));"
    )
    r = subprocess.run(
        [node, "-e", script], cwd=REPO_ROOT / "backend", capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    for f in FEATURE_FIELDS:
        if f.kind == "category":
            assert seen[f.name] == list(f.vocab), f.name
        else:
            assert (seen[f.name]["min"], seen[f.name]["max"], seen[f.name]["integer"]) == (
                f.min,
                f.max,
                f.kind == "int",
            )
    assert seen["case_type_const"] == seen["case_type"] and seen["lang_const"] == seen["client_language"]
