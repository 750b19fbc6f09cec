"""The monitor as a function: labelled current rows make production's ROC AUC part of the report."""

from __future__ import annotations

import pytest

from ml_model.paths import PRODUCTION_DATA
from mlops.sidecar.monitor import MonitorResult, monitor
from mlops.sidecar.simulator import simulate


@pytest.mark.slow
def test_concept_drift_fails_the_reports_roc_auc_test(tmp_path) -> None:
    current = tmp_path / "concept.csv"
    simulate(3000, 8, "concept").to_csv(current, index=False)
    result = monitor(PRODUCTION_DATA, current, out_dir=tmp_path, track=False)
    assert result.verdict.startswith("DRIFT: production ROC AUC fell"), result.verdict
    failed = result.evidently_failed_tests
    assert [t for t in failed if t.startswith("RocAuc")] == failed
    assert result.evidently_failed_tests  # the report's own test failed, at our floor
    assert isinstance(result, MonitorResult) and result.classification_quality is not None
    assert result.as_dict()["classification_quality"]["labelled_rows"] == result.rows.tested
