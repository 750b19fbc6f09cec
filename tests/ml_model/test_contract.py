"""The published contract is the schema's: the committed JSON is current and the backend reads it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from ml_model import contract, openapi
from ml_model.paths import REPO_ROOT
from ml_model.schema import FEATURE_FIELDS


def test_the_committed_contract_is_current(tmp_path) -> None:
    assert contract.main(["--check"]) == 0, (
        "run `python ml_model/contract.py` and commit backend/lib/contract.json and ml_model/openapi.json"
    )
    stale = tmp_path / "contract.json"
    stale.write_text(contract.rendered().replace('"max": 5', '"max": 6'))
    assert contract.main(["--check", "--out", str(stale)]) == 1
    current_doc = tmp_path / "openapi.json"
    current_doc.write_text(openapi.rendered())
    script = str(REPO_ROOT / "ml_model/contract.py")
    cmd = [sys.executable, script, "--out", str(stale), "--openapi-out", str(current_doc)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and stale.read_text() == contract.rendered()


def test_a_stale_openapi_description_fails_the_check(tmp_path) -> None:
    """The committed description drifts when the schema changes: the check names the file."""
    current = tmp_path / "contract.json"
    current.write_text(contract.rendered())
    doc = tmp_path / "openapi.json"
    assert '"maximum": 5,' in openapi.rendered()  # case_complexity's bound, as the edit below assumes
    doc.write_text(openapi.rendered().replace('"maximum": 5,', '"maximum": 6,', 1))
    assert contract.main(["--check", "--out", str(current), "--openapi-out", str(doc)]) == 1
    doc.unlink()  # a missing file is stale too
    assert contract.main(["--check", "--out", str(current), "--openapi-out", str(doc)]) == 1
    assert contract.main(["--out", str(current), "--openapi-out", str(doc)]) == 0
    assert doc.read_text(encoding="utf-8") == openapi.rendered()
    assert contract.main(["--check", "--out", str(current), "--openapi-out", str(doc)]) == 0


def test_the_committed_description_is_the_generated_one() -> None:
    committed = json.loads(openapi.OPENAPI_FILE.read_text(encoding="utf-8"))
    assert committed == openapi.openapi_document()
    integer_fields = {f.name for f in FEATURE_FIELDS if f.kind == "int"}
    props = committed["components"]["schemas"]["Instance"]["properties"]
    assert {n for n, p in props.items() if p["type"] == "integer"} == integer_fields


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
