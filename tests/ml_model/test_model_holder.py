"""The model holder, in process: a promoted set is picked up by ``current`` once the manifest
changes, and a set that does not verify is refused while the old model keeps serving."""

from __future__ import annotations

import json
from pathlib import Path

from ml_model.model_holder import ModelHolder
from tests.support.service import copy_artifacts, write_signed_manifest


def _promote(model_dir: Path, version: str) -> None:
    manifest = json.loads((model_dir / "manifest.json").read_text())
    manifest["model_version"] = version
    write_signed_manifest(model_dir, manifest)


def test_current_reloads_once_the_manifest_changes(tmp_path: Path) -> None:
    d = copy_artifacts(tmp_path / "model")
    holder = ModelHolder(d)
    old = holder.current().version
    _promote(d, "v_promoted")
    assert holder.current().version == old  # checked at most once a second
    holder.CHECK_EVERY_S = 0.0  # as if a second had passed
    assert holder.current().version == "v_promoted"


def test_a_set_that_does_not_verify_is_refused_and_the_old_model_stays(tmp_path: Path) -> None:
    d = copy_artifacts(tmp_path / "model")
    holder = ModelHolder(d)
    model = holder.model
    with open(d / "scaler.pkl", "ab") as fh:
        fh.write(b"x")
    assert holder.reload() is False and holder.model is model
