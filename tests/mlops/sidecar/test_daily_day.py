"""One served day measured: a small day gives NO VERDICT and keeps no drift snapshot (its plots would
show the few clients' answers); a day of unknown categories only is recorded, not a crash; the
realized ROC AUC counts every version's served pairs."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
import yaml

from ml_model.paths import PARAMS_FILE
from mlops.sidecar.config import Params
from mlops.sidecar.daily import build_baseline
from mlops.sidecar.daily_day import Baseline, measure_day
from mlops.sidecar.persistence import DailyConfig
from mlops.sidecar.simulator import simulate

DAY = date(2026, 11, 11)


@pytest.fixture(scope="module")
def base() -> Baseline:
    raw = yaml.safe_load(PARAMS_FILE.read_text())
    return build_baseline(Params.load(), DailyConfig.from_params(raw))


def served(rows: int, seed: int, version: str) -> pd.DataFrame:
    """Simulated pairs as the store gives them: one request per pair, served by ``version``."""
    df = simulate(rows, seed)
    return df.assign(
        prediction_id=[f"{seed:04d}{i:028x}" for i in range(rows)],
        lawyer_id=[str(i) for i in range(rows)],
        match_probability=df["match"] * 0.5 + 0.25,  # a served score that ranks perfectly
        model_version=version,
    )


def outcomes_of(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {"match_id": frame["prediction_id"], "lawyer_id": frame["lawyer_id"], "label": frame["match"]}
    )


def test_a_small_day_has_no_verdict_and_no_drift_snapshot(base: Baseline) -> None:
    frame = served(300, 1, base.model_version)
    rec, snapshot = measure_day(DAY, frame, outcomes_of(frame.iloc[:0]), base, (True, ""))
    assert rec.verdict == "NO VERDICT" and rec.tested == 300 and snapshot is None
    assert rec.key_drifted == [] and rec.failing == []


def test_a_day_of_unknown_categories_only_is_recorded(base: Baseline) -> None:
    frame = served(50, 2, base.model_version).assign(client_region="atlantis")
    rec, snapshot = measure_day(DAY, frame, outcomes_of(frame.iloc[:0]), base, (True, ""))
    assert (rec.verdict, rec.tested, rec.pairs, snapshot) == ("NO VERDICT", 0, 50, None)


def test_the_realized_auc_counts_pairs_an_older_version_served(base: Baseline) -> None:
    frame = served(400, 3, "v_older")  # production was promoted since: no estimate, still the labels
    rec, _ = measure_day(DAY, frame, outcomes_of(frame), base, (True, ""))
    assert rec.labelled_pairs == 400 and rec.realized_roc_auc == pytest.approx(1.0)
    assert rec.estimated_roc_auc is None and rec.estimated_on_labelled is None
