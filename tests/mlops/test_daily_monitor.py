"""The daily monitor through the real commands, on a simulated 20-day history (the issue's "done when").

simulate_history.py writes what the service would have logged (one rotated file a day) and the
outcomes caseworkers record 14 days later; ship_logs.py ships both into a folder store; then
monitor_model.py --store ... --daily runs as of day 21 (outcomes of days 1-6 arrived) and as of
day 35 (all arrived), in a copy of the repository with its own MLflow file store. The ``prices``
history is the README's "Try it on a simulated month" block, run line by line as written (its
scratch folder /tmp/sim moved into the test's own), the dashboard line included.

- ``prices`` from day 11: days 11-20 drift on lawyer_hourly_rate, the rule fires once (from day
  13, exit 3, one alert record and one alert run), a second run with nothing new exits 0 and
  monitors nothing, and where labels exist the estimate's band holds the realized ROC AUC.
- ``concept`` from day 11: nothing fires as of day 21 (the inputs do not move and the estimate
  cannot see it); as of day 35 the realized ROC AUC of days 11-20 falls, the rule fires on it, and
  those days' records say the estimate missed and was unreliable.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests

from tests.support.ports import free_port, wait_http
from tests.support.procs import stop_group
from tests.support.readme import bash, bash_block
from tests.support.repo import Repo, make_repo

pytestmark = pytest.mark.slow

END = date(2026, 11, 20)  # day 20
DAY = {i: END - timedelta(days=20 - i) for i in range(1, 21)}
AS_OF_21 = str(END + timedelta(days=1))
AS_OF_35 = str(END + timedelta(days=15))


def history(repo: Repo, drift: str) -> Path:
    """Simulate and ship a 20-day history with ``drift`` from day 11; returns the store."""
    root = repo.root / "prod"
    log, exports, store = root / "logs" / "predictions.jsonl", root / "exports", root / "store"
    r = repo.script(
        "simulate_history.py", "--log", str(log), "--outcomes-dir", str(exports), "--end", str(END),
        "--drift", drift,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    outcomes = [a for f in sorted(exports.iterdir()) for a in ("--outcomes", str(f))]
    ship = [
        sys.executable,
        str(repo.root / "scripts" / "ship_logs.py"),
        "--store",
        str(store),
        "--host",
        "web1",
    ]
    env = {**repo.env, "PREDICTION_LOG": str(log)}
    r = subprocess.run(
        [*ship, *outcomes], env=env, cwd=repo.root, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return store


def daily(repo: Repo, store: Path, as_of: str) -> tuple[int, dict, str]:
    r = repo.script(
        "monitor_model.py", "--store", str(store), "--daily", "--as-of", as_of,
        "--workspace", str(repo.root / "mlops" / "workspace"), timeout=900,
    )  # fmt: skip
    return summarized(repo, r)


def summarized(repo: Repo, r: subprocess.CompletedProcess) -> tuple[int, dict, str]:
    summary = repo.root / "mlops" / "reports" / "daily" / "daily_summary.json"
    assert r.returncode in (0, 3), r.stderr[-3000:]
    return r.returncode, json.loads(summary.read_text()), r.stderr


def by_day(summary: dict) -> dict[str, dict]:
    return {rec["day"]: rec for rec in summary["history"]}


def alert_runs(repo: Repo) -> list:
    from mlflow.tracking import MlflowClient

    uri = (repo.root / "mlops" / "tracking").as_uri()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.get_experiment_by_name("LegalAid_Connect_Matchmaking")
    return client.search_runs([exp.experiment_id], "tags.kind = 'drift_alert'")


def covered(rec: dict) -> bool:
    return rec["estimated_on_labelled_low"] <= rec["realized_roc_auc"] <= rec["estimated_on_labelled_high"]


class Month:
    """The README's simulated month, run line by line in a copy of the repository."""

    def __init__(self, root: Path) -> None:
        self.repo = make_repo(root / "repo", rows=0, epochs=None)
        self.scratch = root / "sim"
        self.lines = bash_block("### Production over time", "Try it on a simulated month")
        self.results: dict[str, tuple[int, dict, str, int]] = {}
        assert (
            len(self.lines) == 5
            and "simulate_history.py" in self.lines[0]
            and "monitor_ui.py" in self.lines[4]
        )

    def run(self, i: int) -> subprocess.CompletedProcess:
        return bash(self.repo, self.lines[i].replace("/tmp/sim", str(self.scratch)))


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Month:
    """The block's lines in order: simulate, ship, as of 21 November (twice: the second finds nothing
    new), as of 5 December; each monitor run's exit, summary and log, and the alert runs after it."""
    month = Month(tmp_path_factory.mktemp("month"))
    for i in (0, 1):  # simulate, ship
        r = month.run(i)
        assert r.returncode == 0, f"`{month.lines[i]}`:\n{r.stderr[-2000:]}"
    for name, i in (("as_of_21", 2), ("again", 2), ("as_of_35", 3)):
        month.results[name] = (*summarized(month.repo, month.run(i)), len(alert_runs(month.repo)))
    return month


def test_prices_drift_fires_once_and_the_estimate_tracks_the_labels(month: Month) -> None:
    code, summary, log, alerts = month.results["as_of_21"]
    assert code == 3 and alerts == 1, log[-3000:]
    days = by_day(summary)
    assert summary["monitored"] == [str(DAY[i]) for i in range(1, 21)]
    assert all(days[str(DAY[i])]["verdict"] == "NO DRIFT" for i in range(1, 11)), days
    for i in range(11, 21):
        assert (
            days[str(DAY[i])]["verdict"] == "DRIFT"
            and "lawyer_hourly_rate" in days[str(DAY[i])]["key_drifted"]
        )
    [alert] = summary["alerts"]
    assert alert["first_day"] == str(DAY[13]) and "lawyer_hourly_rate" in alert["reasons"][0]
    assert (month.repo.root / "mlops" / "reports" / "daily" / f"alert_{DAY[13]}.json").is_file()
    # outcomes are recorded 14 days later: as of day 21, days 1-6 have theirs, later days none
    labelled = [d for d, rec in days.items() if rec["realized_roc_auc"] is not None]
    assert labelled == [str(DAY[i]) for i in range(1, 7)], labelled
    assert all(days[str(DAY[i])]["labelled_pairs"] == 0 for i in range(7, 21))


def test_a_run_with_nothing_new_monitors_nothing_and_exits_0(month: Month) -> None:
    code, again, log, alerts = month.results["again"]
    assert code == 0 and again["monitored"] == [] and again["updated"] == [] and again["alerts"] == [], log[
        -2000:
    ]
    assert alerts == 1 and "0 to monitor now" in log


def test_late_outcomes_update_the_days_and_the_estimate_holds_them(month: Month) -> None:
    code, late, log, alerts = month.results["as_of_35"]
    assert code == 0 and late["alerts"] == [] and alerts == 1, log[-2000:]  # the episode was alerted
    assert late["updated"] == [str(DAY[i]) for i in range(7, 21)], late["updated"]
    days = by_day(late)
    assert all(rec["labelled_pairs"] >= 1000 for rec in days.values())
    hits = [d for d, rec in days.items() if covered(rec)]
    # each band is about 95%: nearly every day, and the estimate is close on average
    assert len(hits) >= 18, {
        d: (r["realized_roc_auc"], r["estimated_on_labelled_low"], r["estimated_on_labelled_high"])
        for d, r in days.items()
    }
    errors = [abs(r["estimated_on_labelled"] - r["realized_roc_auc"]) for r in days.values()]
    assert sum(errors) / len(errors) < 0.01, errors


def test_the_dashboard_serves_the_history_without_rows(month: Month) -> None:
    """The workspace holds two snapshots a day, no served pair's id, and the README's dashboard line
    serves it: Evidently's UI lists the project and its tab (on a free port instead of 5003)."""
    ws = month.scratch / "workspace"
    index = json.loads((ws / "index.json").read_text())
    assert sorted(index) == [str(DAY[i]) for i in range(1, 21)]
    assert all(ids["drift"] and ids["numbers"] for ids in index.values())  # replaced, not doubled
    snapshots = list(ws.glob("*/snapshots/*.json"))
    assert len(snapshots) == 40
    ids: set[str] = set()
    for p in (month.scratch / "store" / "predictions").rglob("*.parquet"):
        ids |= set(pq.read_table(p, columns=["prediction_id"]).column(0).to_pylist()[:50])
    assert len(ids) > 200  # several requests of every day
    leaked = [p.name for p in snapshots if any(i in p.read_text() for i in ids)]
    assert leaked == []  # a snapshot holds scores and histogram bins, never a row

    port = free_port()
    line = (
        month.lines[4]
        .replace("/tmp/sim", str(month.scratch))
        .replace("MONITOR_UI_PORT=5003", f"MONITOR_UI_PORT={port}")
    )
    proc = subprocess.Popen(
        ["bash", "-c", f"source .venv/bin/activate && {line}"], cwd=month.repo.root, env=month.repo.env,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        first = proc.stdout.readline()
        assert first.startswith(f"Evidently UI (daily monitor): http://127.0.0.1:{port}/projects/"), first
        wait_http(f"http://127.0.0.1:{port}/api/projects", proc, timeout=120)
        [project] = requests.get(f"http://127.0.0.1:{port}/api/projects", timeout=10).json()
        assert project["id"] in first and project["name"] == "LegalAid Connect production, daily"
        board = requests.get(f"http://127.0.0.1:{port}/api/v2/dashboards/{project['id']}", timeout=10).json()
        assert board["tabs"][0]["title"] == "Production over time"
    finally:
        stop_group(proc)


def test_concept_drift_is_caught_by_the_realized_auc_not_the_estimate(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", rows=0, epochs=None)
    store = history(repo, "concept")
    code, summary, log = daily(repo, store, AS_OF_21)
    assert code == 0 and summary["alerts"] == [], log[-3000:]
    days = by_day(summary)
    assert all(days[str(DAY[i])]["failing"] == [] for i in range(1, 21)), days
    code, late, log = daily(repo, store, AS_OF_35)
    assert code == 3, log[-3000:]
    [alert] = late["alerts"]
    assert "realized ROC AUC" in " ".join(alert["reasons"])
    days = by_day(late)
    for i in range(11, 21):
        rec = days[str(DAY[i])]
        assert any("realized ROC AUC" in f for f in rec["failing"]), rec
        assert not any("estimated" in f for f in rec["failing"]), rec  # the estimate did not see it
        assert rec["estimate_missed"] is True and rec["estimate_reliable"] is False, rec
        assert "cannot see" in rec["estimate_check"] and "unreliable" in rec["estimate_check"]
    # before the change the estimate held: its band covered nearly every labelled day
    assert sum(covered(days[str(DAY[i])]) for i in range(1, 11)) >= 9
