"""The journalled swap: the whole set or none; a crash after the commit point is rolled forward,
one before it leaves the old set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml_model.artifacts import ManifestError, verify_manifest
from ml_model.common import sha256_file
from ml_model.paths import ARTIFACT_FILES
from mlops.sidecar.swap import JOURNAL, STAGING, recover, swap_in
from tests.support.service import copy_artifacts, write_signed_manifest


def _two_sets(tmp_path: Path) -> tuple[Path, Path]:
    prod = copy_artifacts(tmp_path / "prod")
    new = copy_artifacts(tmp_path / "new")
    manifest = json.loads((new / "manifest.json").read_text())
    manifest["model_version"] = "v_new"
    manifest["decision"] = {"improved": True, "reason": "a test candidate the gate approved"}
    for name in ARTIFACT_FILES:  # every artifact differs, re-vouched by the new, signed manifest
        with open(new / name, "ab") as fh:
            fh.write(b"\n")
        manifest["artifacts"][name] = sha256_file(new / name)
    write_signed_manifest(new, manifest)
    return prod, new


def test_swap_in_replaces_the_whole_set(tmp_path: Path) -> None:
    prod, new = _two_sets(tmp_path)
    swap_in(new, prod)
    assert verify_manifest(prod)["model_version"] == "v_new"
    assert not (prod / JOURNAL).exists() and not (prod / STAGING).exists()


@pytest.mark.parametrize("renames_done", [0, 1, 2, 3])
def test_a_crash_after_the_commit_point_rolls_forward(tmp_path: Path, renames_done: int) -> None:
    prod, new = _two_sets(tmp_path)
    with pytest.raises(SystemExit):
        swap_in(new, prod, crash_after=renames_done)
    if renames_done:
        with pytest.raises(ManifestError):
            verify_manifest(prod)  # a mixed set is refused by every loader ...
    assert recover(prod) == "rolled forward"  # ... and the next run finishes the swap
    assert verify_manifest(prod)["model_version"] == "v_new"


def test_a_crash_before_the_commit_point_keeps_the_old_set(tmp_path: Path) -> None:
    prod, _new = _two_sets(tmp_path)
    old = verify_manifest(prod)["model_version"]
    (prod / STAGING).mkdir()
    (prod / STAGING / "lawyer_match_model.h5").write_bytes(b"half a file")
    assert recover(prod) == "discarded"
    assert verify_manifest(prod)["model_version"] == old
    assert recover(prod) is None
