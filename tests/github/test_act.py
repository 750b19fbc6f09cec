"""The workflow .github/workflows/mlops.yml run for real, with act, on a fresh clone (tests/support/act.py).

- A manual dispatch with nothing configured: every step passes, the job summary has the gate's
  decision and the metrics, the drift and evaluation reports are uploaded, and the job ran in an
  environment of its own (the project's venv still serves this work tree).
- A push of a new data version (a concept change, `dvc add` + `dvc push` to a remote the job reaches
  by the variable DVC_REMOTE): the gate says improved and the `mlops-candidate` artifact holds a set
  that verifies and that promote_model.py promotes in another fresh copy. Without DVC_REMOTE the
  same push fails in the data step, which says what to configure (bootstrap_data.py on its own:
  tests/mlops/test_bootstrap_data.py).
- The schedule (the daily job), on a log store the real shipper filled from a simulated history and
  that the job reaches by the variable LOG_STORE, with a webhook on 127.0.0.1 as ALERT_WEBHOOK_URL:
  a few normal days end in success, a summary naming each day NO DRIFT, no candidate and no alert;
  days of concept drift with their outcomes make the persistent-drift rule fire, the loop builds the
  labelled version from the store, retrains, and uploads a signed candidate that verifies; the
  summary states the alert and the gate's decision, the webhook receives the JSON alert, and the
  run fails at its last step only, with the sentence that a person decides.

Each act run prints its wall time (run pytest with -s to see it).
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ml_model.common import sha256_file
from ml_model.paths import ARTIFACT_FILES, MANIFEST_FILE, REPO_ROOT, SIGNATURE_FILE
from tests.mlops.webhook_server import Webhook, webhook_server
from tests.support.act import (
    ActRun,
    CiKey,
    check,
    ci_key,
    commit_new_data_version,
    fresh_clone,
    run_act,
    simulated_store,
    workflow_step_names,
)
from tests.support.repo import VENV_BIN, Repo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

# Fewer epochs than params.yaml's 15 keep a retrain short; on a concept change the candidate still
# beats production by far more than the gate's min_delta.
EPOCHS = 5
NEW_DATA_SEED = 11
DVC = str(VENV_BIN / "dvc")
CANDIDATE_FILES = {*ARTIFACT_FILES, SIGNATURE_FILE, MANIFEST_FILE, "metrics.json"}
HOST_SITE = Path(sysconfig.get_paths()["purelib"])  # this venv's site-packages


def host_ml_model() -> str:
    """Where the project's venv imports ml_model from, outside any copy (no PYTHONPATH, cwd /)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    cmd = [sys.executable, "-c", "import ml_model; print(ml_model.__file__)"]
    return check(
        subprocess.run(cmd, cwd="/", env=env, capture_output=True, text=True, timeout=60)
    ).stdout.strip()


def site_packages_listing() -> set[str]:
    return set(os.listdir(HOST_SITE))


def assert_all_steps_passed(run: ActRun, clone: Path) -> None:
    assert run.returncode == 0 and "Job succeeded" in run.output, run.tail()
    steps = run.steps()
    for name in workflow_step_names(clone):
        assert steps.get(name) == "Success", (name, steps, run.tail())
    assert "Failure" not in steps.values(), steps


def assert_job_had_its_own_environment(run: ActRun, work: Path, before: set[str]) -> None:
    """The job imported the act checkout's code from its own venv; the project's venv is untouched."""
    checkout = (work / "act-cache").resolve()
    (direct_url,) = run.job_venv.glob(
        "lib/python3.11/site-packages/legalaid_connect-*.dist-info/direct_url.json"
    )
    job_install = json.loads(direct_url.read_text())
    assert job_install["dir_info"] == {"editable": True}
    assert job_install["url"].startswith(checkout.as_uri()) and job_install["url"].endswith("/hostexecutor")
    # the retrain read ml_model.paths from the checkout: its data path is there
    assert run.step_log(f"{checkout}/"), run.tail()
    assert any("hostexecutor/mlops/data/matchmaking_dataset.csv" in line for line in run.step_log("Data ")), (
        run.tail()
    )
    # and the project's venv still serves the project's work tree
    assert host_ml_model() == str(REPO_ROOT / "ml_model" / "__init__.py")
    (host_url,) = HOST_SITE.glob("legalaid_connect-*.dist-info/direct_url.json")
    assert json.loads(host_url.read_text())["url"] == REPO_ROOT.as_uri()
    assert site_packages_listing() == before


# ---------------------------------------------------------------------------- manual dispatch


def test_manual_dispatch_with_nothing_configured(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path / "clone", epochs=EPOCHS)
    before = site_packages_listing()
    run = run_act(clone.root, "workflow_dispatch", tmp_path / "act")
    print(f"\nact workflow_dispatch (nothing configured): {run.seconds:.1f} s wall")
    assert_all_steps_passed(run, clone.root)

    # the data: pulled from the default remote or recreated from the first version
    assert run.step_log("Pulled ") or run.step_log("Recreated "), run.tail()
    summary = run.summary()
    assert "## MLOps pipeline" in summary, run.tail()
    assert "**Gate: candidate v" in summary and "Reason: " in summary, summary
    assert "| metric | candidate | production | change |" in summary
    assert "| roc_auc | " in summary and "| gate check | passed |" in summary
    assert "### Data drift" in summary and "### Production model v" in summary

    reports = run.artifacts / "mlops-reports"
    assert list(reports.glob("evaluation_*.txt")), sorted(run.artifacts.rglob("*"))
    assert list(reports.glob("data_drift_report_*.html")) and list(reports.glob("data_drift_report_*.json"))
    tracking = run.artifacts / "mlops-tracking"
    retrain = json.loads((tracking / "last_retrain.json").read_text())
    assert retrain["candidate"]["roc_auc"] > 0.5
    assert not any(p.name.startswith(".") for p in tracking.rglob("*"))  # no lock files
    # a candidate is uploaded exactly when the gate kept one
    improved = retrain["decision"]["improved"]
    assert (run.artifacts / "mlops-candidate").is_dir() == improved
    assert ("not improved**" in summary) == (not improved)

    assert_job_had_its_own_environment(run, tmp_path / "act", before)


# ---------------------------------------------------------------------------- a new data version


@pytest.fixture(scope="module")
def data_push(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repo, str]:
    """A fresh clone whose last commit is a new data version (a concept change) pushed to the DVC
    remote ``ci`` (a temporary folder); neither the data nor the DVC cache is left in the clone."""
    base = tmp_path_factory.mktemp("data-push")
    clone = fresh_clone(base / "clone", epochs=EPOCHS)
    check(clone.run(DVC, "remote", "add", "ci", str(base / "dvc-remote")))
    return clone, commit_new_data_version(clone, "ci", NEW_DATA_SEED)


def test_push_without_a_reachable_data_version_says_what_to_configure(data_push, tmp_path: Path) -> None:
    clone, _ = data_push
    run = run_act(clone.root, "push", tmp_path / "act")
    print(f"\nact push, data not reachable: {run.seconds:.1f} s wall")
    assert run.returncode != 0, run.tail()
    steps = run.steps()
    assert steps["Get the data (dvc pull)"] == "Failure", steps
    assert "no reachable DVC remote holds" in run.output, run.tail()
    assert "Configure the remote that holds it" in run.output
    assert (
        "Retrain, gate and sign the candidate" not in steps
        or steps["Retrain, gate and sign the candidate"] != "Success"
    )
    assert "No retrain record" in run.summary(), run.tail()
    assert not (run.artifacts / "mlops-candidate").exists()


def test_push_of_a_new_data_version_uploads_a_promotable_candidate(data_push, tmp_path: Path) -> None:
    clone, digest = data_push
    key = ci_key()
    key.trusted_in(clone)  # the public half committed, the private half a secret
    run = run_act(clone.root, "push", tmp_path / "act", variables={"DVC_REMOTE": "ci"}, secrets=key.secret)
    print(f"\nact push, new data version via DVC_REMOTE: {run.seconds:.1f} s wall")
    assert_all_steps_passed(run, clone.root)
    assert run.step_log("is present and matches"), run.tail()  # pulled from `ci` by the data step
    summary = run.summary()
    assert " improved** " in summary and "not improved" not in summary, summary

    (candidate,) = (run.artifacts / "mlops-candidate").iterdir()
    assert candidate.name.startswith("v") and {p.name for p in candidate.iterdir()} == CANDIDATE_FILES
    manifest = clone.verify(candidate)
    assert manifest["model_version"] == candidate.name
    assert "which production trusts" in summary, summary
    assert key.pem.splitlines()[1] not in run.output  # the secret is masked in every log
    assert manifest["training_data"]["sha256"] == digest  # trained on the pushed version
    assert manifest["decision"]["improved"] is True
    assert json.loads((candidate / "metrics.json").read_text())["version"] == candidate.name
    assert f"promote_model.py --version {candidate.name}" in summary

    # A person promotes it, as the summary says, in a copy that never trained: the candidate into
    # mlops/models/. Its registry was the runner's file store, so the alias is not moved here.
    other = key.trusted_in(fresh_clone(tmp_path / "promote"))
    shutil.copytree(candidate, other.root / "mlops" / "models" / candidate.name)
    dry = check(other.script("promote_model.py", "--version", candidate.name, "--dry-run"))
    assert "would archive production" in dry.stderr and candidate.name in dry.stderr
    r = check(other.script("promote_model.py", "--version", candidate.name))
    assert "registered as version" in r.stderr and "in another MLflow store" in r.stderr, r.stderr[-1500:]
    production = other.root / "ml_model"
    for name in (*ARTIFACT_FILES, SIGNATURE_FILE, MANIFEST_FILE):
        assert filecmp.cmp(candidate / name, production / name, shallow=False), name
    assert other.verify(production)["model_version"] == candidate.name


# ---------------------------------------------------------------------------- the schedule (daily job)

# A day's served pairs: one pair per logged request, so each day has the 1,000 requests a drift
# verdict needs. Outcomes for every pair a day after (realized ROC AUC needs 1,000 labels a day).
QUIET_PAIRS, DRIFT_PAIRS = 1200, 2500
DRIFT_DAYS, DRIFT_FROM = 8, 2  # concept drift from day 2: days 2, 3, 4 fail, the rule fires on day 4
FAIL_STEP = "Fail the run so that a person decides"
NOT_ON_A_QUIET_DAY = {
    "Get the data version",
    "Build the labelled data version from the store",
    "Retrain, gate and sign the candidate",
    "Upload the candidate",
    "Send the alert to the webhook",
    FAIL_STEP,
}


def last_served_day() -> date:
    """Yesterday (UTC); the day before in the first minutes of a day, when the shipper's slack
    (logstore: 5 minutes) still holds yesterday open."""
    return (datetime.now(UTC) - timedelta(minutes=10)).date() - timedelta(days=1)


@pytest.fixture(scope="module")
def daily_clone(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repo, CiKey]:
    """One fresh clone for both scheduled runs (act copies its work tree for each), trusting CI's key.
    params.yaml's own epochs: a retrain on 20,000 labelled rows then passes the f1 guard with margin."""
    clone = fresh_clone(tmp_path_factory.mktemp("daily") / "clone")
    key = ci_key()
    key.trusted_in(clone)
    return clone, key


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    """A webhook on 127.0.0.1 for the job's alert (the job runs on this host, as act runs it)."""
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    with webhook_server() as server:
        yield server


def run_schedule(clone: Repo, store: Path, work: Path, hook: Webhook, key: CiKey) -> ActRun:
    variables = {"LOG_STORE": str(store), "ALERT_WEBHOOK_URL": hook.url("/alerts?token=SECRETQ")}
    env = {"no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}
    return run_act(clone.root, "schedule", work, variables=variables, secrets=key.secret, env=env)


def daily_summary(run: ActRun) -> dict:
    return json.loads((run.artifacts / "mlops-reports" / "daily" / "daily_summary.json").read_text())


def test_scheduled_run_with_no_drift_succeeds_and_names_the_days(daily_clone, hook, tmp_path: Path) -> None:
    clone, key = daily_clone
    end = last_served_day()
    store = simulated_store(clone, tmp_path / "history", end=end, days=3, pairs_per_day=QUIET_PAIRS)
    run = run_schedule(clone, store, tmp_path / "act", hook, key)
    print(f"\nact schedule, 3 normal days: {run.seconds:.1f} s wall")
    assert run.returncode == 0 and "Job succeeded" in run.output, run.tail()
    steps = run.steps()
    assert "Failure" not in steps.values(), steps
    for name in workflow_step_names(clone.root, "daily"):  # the loop and the alert do not run
        wanted = {None, "Skipped"} if name in NOT_ON_A_QUIET_DAY else {"Success"}
        assert steps.get(name) in wanted, (name, steps)
    assert run.step_log("The daily monitor raised nothing."), run.tail()

    days = [str(end - timedelta(days=i)) for i in (2, 1, 0)]
    summary = run.summary()
    assert "## Daily drift monitor" in summary, run.tail()
    assert "**No persistent drift**: 3 day(s) monitored in this run" in summary, summary
    for day in days:
        assert f"| {day} | NO DRIFT | " in summary, summary
    assert "cannot see concept drift" in summary and "Gate" not in summary
    assert daily_summary(run)["monitored"] == days
    assert not (run.artifacts / "mlops-candidate").exists()
    assert hook.received == []  # nothing fired: no alert


def test_scheduled_run_after_drifted_days_yields_a_candidate_and_fails_at_the_end(
    daily_clone, hook, tmp_path: Path
) -> None:
    clone, key = daily_clone
    end = last_served_day()
    store = simulated_store(
        clone,
        tmp_path / "history",
        end=end,
        days=DRIFT_DAYS,
        pairs_per_day=DRIFT_PAIRS,
        drift="concept",
        drift_from=DRIFT_FROM,
        label_share=1.0,
        label_delay_days=1,
    )
    first = str(end - timedelta(days=DRIFT_DAYS - (DRIFT_FROM + 2)))  # the third failing day
    run = run_schedule(clone, store, tmp_path / "act", hook, key)
    print(f"\nact schedule, {DRIFT_DAYS} days, concept drift from day {DRIFT_FROM}: {run.seconds:.1f} s wall")
    # the run fails visibly, at its last step only
    assert run.returncode != 0 and "Job failed" in run.output, run.tail()
    steps = run.steps()
    assert [name for name, result in steps.items() if result == "Failure"] == [FAIL_STEP], (steps, run.tail())
    for name in workflow_step_names(clone.root, "daily"):
        assert steps.get(name) == ("Failure" if name == FAIL_STEP else "Success"), (name, steps)
    assert run.step_log("The daily monitor found persistent drift"), run.tail()

    (candidate,) = (run.artifacts / "mlops-candidate").iterdir()
    assert candidate.name.startswith("v") and {p.name for p in candidate.iterdir()} == CANDIDATE_FILES
    manifest = clone.verify(candidate)  # signed with CI's key, which the clone trusts
    assert manifest["model_version"] == candidate.name and manifest["decision"]["improved"] is True
    # trained on the labelled version the job built from the store (it stays on the runner)
    (built,) = (tmp_path / "act" / "act-cache").glob("**/hostexecutor/mlops/data/matchmaking_dataset.csv")
    assert manifest["training_data"]["sha256"] == sha256_file(built)
    assert sum(1 for _ in built.open()) == 1 + DRIFT_DAYS * DRIFT_PAIRS
    assert key.pem.splitlines()[1] not in run.output

    sentence = (
        f"Persistent drift from {first}: a candidate is in the registry as challenger ({candidate.name}); "
        "a person decides whether to promote."
    )
    assert sentence in run.output, run.tail()
    summary = run.summary()
    assert f"**PERSISTENT DRIFT from {first}**" in summary, summary
    assert "### Alert" in summary and "realized ROC AUC" in summary and "below the floor" in summary
    assert f"**Gate: candidate {candidate.name} improved**" in summary
    assert f"promote_model.py --version {candidate.name}" in summary
    assert "which production trusts" in summary
    assert (run.artifacts / "mlops-reports" / "daily" / f"alert_{first}.json").is_file()
    assert daily_summary(run)["alerts"][0]["first_day"] == first

    (alert,) = hook.received
    assert alert.path == "/alerts?token=SECRETQ" and alert.content_type == "application/json"
    body = json.loads(alert.body)
    assert body["event"] == "persistent_drift" and body["message"] == sentence
    assert body["episode"]["first_day"] == first and body["episode"]["reasons"]
    assert body["gate"]["decision"] == "improved" and body["candidate_version"] == candidate.name
    assert body["run_url"] and "/actions/runs/" in body["run_url"]
    assert "SECRETQ" not in run.output  # the webhook's query is never logged
