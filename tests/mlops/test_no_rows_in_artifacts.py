"""No artifact carries a data row: manifests, MLflow's stored examples and models, drift reports.

The data here is the simulator's with cents added to income and hourly rate, so each row's
identifying numbers are its own and a row found in an artifact was copied there.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlops.sidecar.simulator import simulate
from tests.support.repo import Repo, make_repo
from tests.support.rows import IDENTIFYING, rows_found, rows_in_files

pytestmark = pytest.mark.slow


def distinctive(rows: int, seed: int) -> pd.DataFrame:
    """Simulated rows whose income and hourly rate carry cents that no plot or script would."""
    df = simulate(rows, seed)
    rng = np.random.default_rng(seed)
    cents = rng.integers(1, 100, size=(2, rows)) / 100
    return df.assign(
        client_income=df["client_income"] + cents[0],
        lawyer_hourly_rate=df["lawyer_hourly_rate"] + cents[1],
    )


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repo, pd.DataFrame, pd.DataFrame]:
    """A retrain and two monitor runs (a full window and a small one) on distinctive rows."""
    repo = make_repo(tmp_path_factory.mktemp("norows") / "repo", rows=3000, epochs=4)
    data = distinctive(4000, 31)
    data.to_csv(repo.data, index=False)
    r = repo.script("retrain_model.py")
    assert r.returncode == 0, r.stderr[-2000:]
    small = distinctive(40, 32)
    current = repo.root / "small.csv"
    small.to_csv(current, index=False)
    for window in (repo.data, current):
        r = repo.script("monitor_model.py", "--current", str(window))
        assert r.returncode == 0, r.stderr[-2000:]
    return repo, data, small


def test_the_bar_finds_a_copied_row() -> None:
    rows = distinctive(5, 1)
    assert rows_found(rows.head(2).to_csv(index=False).encode(), rows) == [0, 1]
    assert rows_found(json.dumps(rows.iloc[3].to_dict()).encode(), rows) == [3]
    one_number_each = json.dumps({c: float(rows[c].iloc[i]) for i, c in enumerate(IDENTIFYING)})
    assert rows_found(one_number_each.encode(), rows) == []  # a histogram's edges are not a row


def test_no_artifact_holds_a_training_or_monitored_row(ran: tuple[Repo, pd.DataFrame, pd.DataFrame]) -> None:
    repo, data, small = ran
    mlops = repo.root / "mlops"
    files = [p for d in ("tracking", "models", "reports") for p in (mlops / d).rglob("*")]
    names = {p.name for p in files}
    # What used to hold rows is there, so the search below covers it.
    assert {"manifest.json", "input_example.json", "serving_input_example.json"} <= names
    assert len([n for n in names if n.startswith("data_drift_report_") and n.endswith(".html")]) == 2
    reports = mlops / "reports"  # clients' data: 0600 files in a 0700 folder, created so
    assert reports.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in reports.iterdir())
    assert rows_in_files(files, pd.concat([data, small], ignore_index=True)) == {}
    probes = [
        m["probe"] for p in files if p.name == "manifest.json" and "probe" in (m := json.loads(p.read_text()))
    ]
    assert probes and all(len(probe["rows"]) == 32 for probe in probes)  # the retrain's set has one


def test_a_small_window_report_has_no_column_plots(ran: tuple[Repo, pd.DataFrame, pd.DataFrame]) -> None:
    repo, _, small = ran
    reports = sorted((repo.root / "mlops" / "reports").glob("data_drift_report_*.json"))
    few = [p for p in reports if json.loads(p.read_text())["rows"]["current"] == len(small)]
    assert len(few) == 1
    page = few[0].with_suffix(".html").read_text()
    assert "Drift verdict: NO VERDICT" in page and "column plots are left out" in page
    assert len(page) < 20_000  # our header alone, not Evidently's 4 MB bundle
    for value in small["client_income"]:
        assert f"{value:.2f}" not in page
