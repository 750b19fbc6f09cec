"""Promotion and rollback in a temporary tree: names only, verified and loadable sets only, and a
rollback restores exactly the set the promotion archived."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ml_model.artifacts import load_model, verify_manifest
from ml_model.features import frame_columns
from ml_model.schema import FEATURES
from mlops.sidecar import promotion, swap
from mlops.sidecar.promotion import PromotionError, candidate_dir, promote, rollback
from mlops.sidecar.simulator import simulate
from tests.mlops.sidecar.test_swap import _two_sets
from tests.support.service import write_signed_manifest


def with_probe(folder: Path) -> Path:
    """Record a probe batch in the set's manifest, as training does, scored by the set itself."""
    rows = simulate(8, 3)[list(FEATURES)]
    predictions = load_model(folder).scorer.score(frame_columns(rows), len(rows))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["probe"] = {"rows": json.loads(rows.to_json(orient="records")), "predictions": list(predictions)}
    write_signed_manifest(folder, manifest)
    return folder


@pytest.mark.parametrize("bad", ["../../ml_model", "/tmp/elsewhere", "archive", "v1/../../x", ""])
def test_a_candidate_is_a_folder_name_and_nothing_else(bad: str) -> None:
    with pytest.raises(PromotionError, match="is not a candidate name"):
        candidate_dir(bad)


def test_promote_dry_run_then_promote_then_roll_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prod, new = _two_sets(tmp_path)
    models = tmp_path / "models"
    monkeypatch.setattr(promotion, "MODELS_DIR", models)
    monkeypatch.setattr(swap, "ARCHIVE_DIR", models / "archive")
    shutil.copytree(with_probe(new), models / "v_new")
    old = verify_manifest(prod)["model_version"]
    plan = promote("v_new", dry_run=True, prod_dir=prod)
    assert (plan.outgoing, plan.incoming, plan.archive) == (old, "v_new", None)
    assert verify_manifest(prod)["model_version"] == old and not (models / "archive").exists()
    plan = promote("v_new", prod_dir=prod)
    assert (
        verify_manifest(prod)["model_version"] == "v_new" and Path(plan.archive).parent == models / "archive"
    )
    assert plan.as_dict()["from"] == old and plan.as_dict()["to"] == "v_new"
    back = rollback(prod_dir=prod)
    assert (back.outgoing, back.incoming) == ("v_new", old) and verify_manifest(prod)["model_version"] == old
    with pytest.raises(PromotionError, match="nothing to roll back"):
        rollback(prod_dir=prod)


def test_a_set_that_does_not_score_as_recorded_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod, new = _two_sets(tmp_path)
    monkeypatch.setattr(promotion, "MODELS_DIR", tmp_path / "models")
    cand = shutil.copytree(with_probe(new), tmp_path / "models" / "v_new")
    manifest = json.loads((cand / "manifest.json").read_text())
    manifest["probe"]["predictions"] = [p + 0.01 for p in manifest["probe"]["predictions"]]
    write_signed_manifest(cand, manifest)  # signed, so only the probe can catch it
    before = verify_manifest(prod)["model_version"]
    with pytest.raises(PromotionError, match="does not load and score as trained"):
        promote("v_new", prod_dir=prod)
    assert verify_manifest(prod)["model_version"] == before


def _candidate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, improved: bool) -> tuple[Path, Path]:
    prod, new = _two_sets(tmp_path)
    models = tmp_path / "models"
    monkeypatch.setattr(promotion, "MODELS_DIR", models)
    monkeypatch.setattr(swap, "ARCHIVE_DIR", models / "archive")
    monkeypatch.setattr(promotion, "_tracking_client", lambda: None)  # a folder brought from elsewhere
    manifest = json.loads((with_probe(new) / "manifest.json").read_text())
    manifest["decision"] = {"improved": improved, "reason": "AUC +0.001 (needs +0.005)"}
    write_signed_manifest(new, manifest)
    return prod, shutil.copytree(new, models / "v_new")


def test_a_rejected_candidate_is_refused_and_production_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod, _cand = _candidate(tmp_path, monkeypatch, improved=False)
    before = {p.name: p.read_bytes() for p in prod.iterdir()}
    for dry in (True, False):
        with pytest.raises(
            PromotionError, match=r"the gate's decision is 'rejected' \(AUC \+0\.001.*--force --reason"
        ):
            promote("v_new", dry_run=dry, prod_dir=prod)
    assert {p.name: p.read_bytes() for p in prod.iterdir()} == before


def test_force_with_a_reason_overrides_the_gate_and_the_archive_records_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod, _cand = _candidate(tmp_path, monkeypatch, improved=False)
    plan = promote("v_new", prod_dir=prod, force_reason="hotfix for ticket 42")
    assert verify_manifest(prod)["model_version"] == "v_new"
    assert (
        json.loads((Path(plan.archive) / "archive.json").read_text())["forced_reason"]
        == "hotfix for ticket 42"
    )
    assert rollback(prod_dir=prod).incoming != "v_new"  # rollback restores the archived set as before


def test_force_never_overrides_the_signature(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prod, cand = _candidate(tmp_path, monkeypatch, improved=True)
    manifest = json.loads((cand / "manifest.json").read_text())
    manifest["model_version"] = "v_forged"
    (cand / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PromotionError, match=r"signature\.json: the signature by key .* does not match"):
        promote("v_new", prod_dir=prod, force_reason="please")
