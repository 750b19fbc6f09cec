"""``scripts/privacy.py`` as an operator types it, while the real service (gunicorn, gevent) takes
/rank traffic and rotates its log: erase leaves no byte of the id in any file of the app's folders
and loses no other line; expire removes exactly what is past its limit."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
import requests

from ml_model.paths import REPO_ROOT
from ml_model.prediction_log_reader import log_files
from ml_model.schema import CASE_FIELDS
from ml_model.synthetic import contract_rows
from tests.support.clientdb import ids, iso, make_db
from tests.support.ports import wait_http
from tests.support.repo import Repo, make_repo
from tests.support.service import Service, copy_artifacts

pytestmark = pytest.mark.slow
CASE = [f.name for f in CASE_FIELDS]


def rank_body(seed: int) -> dict:
    rows = contract_rows(8, seed).to_dict("records")
    case = {k: rows[0][k] for k in CASE}
    return {
        "case": case,
        "lawyers": [
            {"lawyer_id": i + 1, **{k: r[k] for k in r if k not in CASE}} for i, r in enumerate(rows)
        ],
    }


class Traffic(threading.Thread):
    """/rank requests until stopped; the prediction ids the service answered with."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.ids, self.stopping, self.errors = url, [], threading.Event(), []

    def run(self) -> None:
        with requests.Session() as s:
            i = 0
            while not self.stopping.is_set():
                r = s.post(self.url + "/rank", json=rank_body(i % 50), timeout=30)
                if r.status_code == 200:
                    self.ids.append(r.json()["prediction_id"])
                else:
                    self.errors.append(r.text)
                i += 1


def logged_ids(log: Path) -> list[str]:
    return [json.loads(line)["prediction_id"] for f in log_files(log) for line in f.read_bytes().splitlines()]


@pytest.fixture
def app(tmp_path: Path) -> tuple[Repo, dict[str, str], Path]:
    """A repository copy whose stores (log, database, exports) are in a temp folder; its env."""
    repo = make_repo(tmp_path / "repo")
    stores = tmp_path / "app"
    env = {
        **repo.env,
        "PREDICTION_LOG": str(stores / "logs" / "predictions.jsonl"),
        "DB_PATH": str(stores / "db" / "lawyers.db"),
        "OUTCOME_EXPORT_DIR": str(stores / "exports"),
        "PREDICTION_LOG_MAX_BYTES": "30000",
        "PREDICTION_LOG_KEEP": "50",
    }
    return repo, env, stores


def privacy(repo: Repo, env: dict[str, str], *args: str):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, str(repo.root / "scripts" / "privacy.py"), *args],
        env=env,
        cwd=repo.root,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_erase_during_traffic_leaves_nothing_of_the_match_and_loses_no_other_line(
    app, tmp_path: Path
) -> None:
    repo, env, stores = app
    (stores / "db").mkdir(parents=True, mode=0o700)
    (stores / "exports").mkdir(mode=0o700)
    svc = Service(
        copy_artifacts(tmp_path / "model"),
        Path(env["PREDICTION_LOG"]),
        tmp_path / "svc.log",
        gunicorn=True,
        env=env,
    )
    traffic = Traffic(svc.url)
    try:
        traffic.start()
        while len(traffic.ids) < 40:
            time.sleep(0.05)
        target = traffic.ids[3]
        make_db(Path(env["DB_PATH"]), {target: (1, True), ids(1)[0]: (1, True)})
        export = stores / "exports" / "outcomes-20261201T000000Z.jsonl"
        export.write_text(
            json.dumps({"match_id": target, "lawyer_id": 1, "outcome": "engaged"})
            + "\n"
            + json.dumps({"match_id": ids(1)[0], "lawyer_id": 1, "outcome": "engaged"})
            + "\n"
        )
        r = privacy(repo, env, "erase", "--match-id", target)
        time.sleep(0.5)  # more traffic after the erasure, into the files it replaced
    finally:
        traffic.stopping.set()
        traffic.join(timeout=60)
        svc.stop()
    assert r.returncode == 0, r.stderr
    assert (
        "prediction log line(s)" in r.stderr
        and f"Deleted match {target}" in r.stderr
        and "export" in r.stderr
    )
    assert not traffic.errors
    log = Path(env["PREDICTION_LOG"])
    assert len(log_files(log)) > 2  # the service rotated during the test
    held = [p for p in stores.rglob("*") if p.is_file() and target.encode() in p.read_bytes()]
    assert held == []
    assert sorted(logged_ids(log)) == sorted(set(traffic.ids) - {target})  # nothing else lost or doubled
    assert ids(1)[0] in export.read_text()
    assert log.stat().st_mode & 0o777 == 0o600 and log.parent.stat().st_mode & 0o777 == 0o700
    again = privacy(repo, env, "erase", "--match-id", target)
    assert again.returncode == 0 and "nothing on this host holds it" in again.stderr
    bad = privacy(repo, env, "erase", "--match-id", "../../etc/passwd")
    assert bad.returncode == 2 and "32 lowercase hex" in bad.stderr


def test_expire_reports_then_removes_exactly_what_is_past_its_limit(app) -> None:
    repo, env, stores = app
    log = Path(env["PREDICTION_LOG"])
    log.parent.mkdir(parents=True, mode=0o700)
    old, recent = iso(200).replace("Z", "+00:00"), iso(3).replace("Z", "+00:00")
    rotated = log.with_name(log.name + ".3")
    rotated.write_text(
        "".join(json.dumps({"time": old, "prediction_id": f"{i:032x}"}) + "\n" for i in range(5))
    )
    log.write_text(
        json.dumps({"time": old, "prediction_id": "a" * 32})
        + "\n"
        + json.dumps({"time": recent, "prediction_id": "b" * 32})
        + "\n"
    )
    (stores / "db").mkdir(mode=0o700)
    fresh, stale, labelled, ancient = ids(4)
    make_db(
        Path(env["DB_PATH"]),
        {fresh: (10, False), stale: (120, False), labelled: (120, True), ancient: (800, True)},
    )
    (stores / "exports").mkdir(mode=0o700)
    for name, age in (("outcomes-old.jsonl", 100), ("outcomes-new.jsonl", 1)):
        path = stores / "exports" / name
        path.write_text("{}\n")
        then = time.time() - age * 86400
        os.utime(path, (then, then))
    reports = repo.root / "mlops" / "reports"
    reports.mkdir(exist_ok=True)
    (reports / "data_drift_report_20200101_000000.json").write_text("{}")
    (reports / "data_drift_report_29990101_000000.json").write_text("{}")
    before = {p: p.read_bytes() for p in stores.rglob("*") if p.is_file()}

    dry = privacy(repo, env, "expire")
    assert dry.returncode == 0, dry.stderr
    for said in (
        "Would remove 5 lines",
        "Would remove 1 lines",
        "Would delete 2 matches",
        "outcomes-old.jsonl",
        "20200101",
    ):
        assert said in dry.stderr, dry.stderr
    assert {
        p: p.read_bytes() for p in stores.rglob("*") if p.is_file()
    } == before  # a dry run changes nothing

    r = privacy(repo, env, "expire", "--apply")
    assert r.returncode == 0, r.stderr
    assert not rotated.exists() and logged_ids(log) == ["b" * 32]
    import sqlite3

    with sqlite3.connect(env["DB_PATH"]) as con:
        assert sorted(x[0] for x in con.execute("SELECT match_id FROM matches")) == sorted([fresh, labelled])
    assert sorted(p.name for p in (stores / "exports").iterdir()) == ["outcomes-new.jsonl"]
    assert sorted(p.name for p in reports.iterdir()) == ["data_drift_report_29990101_000000.json"]
    again = privacy(repo, env, "expire", "--apply")
    assert again.returncode == 0 and "Nothing is past its limit" in again.stderr


def test_erase_with_the_whole_app_running_leaves_no_byte_in_its_folders(app, tmp_path: Path) -> None:
    """`make app`'s processes (backend on SQLite in WAL mode, the service under gunicorn) keep
    answering /api/match while one stored match is erased from the database, its WAL and the log."""
    import signal
    import subprocess

    from tests.support.ports import free_port

    repo, env, stores = app
    port, ml_port = free_port(), free_port()
    (stores / "db").mkdir(parents=True, mode=0o700)
    env = {**env, "PORT": str(port), "ML_PORT": str(ml_port), "OUTCOMES_TOKEN": "t" * 32}
    start = subprocess.Popen(
        ["bash", str(REPO_ROOT / "scripts" / "start_app.sh")],
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    case = {
        "case_type": "housing",
        "case_complexity": 3,
        "urgency": "high",
        "client_language": "es",
        "client_region": "north",
        "client_income": 22000,
    }
    try:
        wait_http(url + "/api/health", start, timeout=120)
        ids = []
        for _ in range(6):
            r = requests.post(url + "/api/match", json=case, timeout=30)
            assert r.status_code == 200 and r.json()["match_id"], r.text
            ids.append(r.json()["match_id"])
        target = ids[2]
        r = privacy(repo, env, "erase", "--match-id", target)
        after = requests.post(url + "/api/match", json=case, timeout=30)  # the app keeps working
        assert after.status_code == 200, after.text
    finally:
        os.killpg(start.pid, signal.SIGTERM)
        start.wait(timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"Deleted match {target}" in r.stderr and "prediction log" in r.stderr
    held = [str(p) for p in stores.rglob("*") if p.is_file() and target.encode() in p.read_bytes()]
    assert held == []
    import sqlite3

    with sqlite3.connect(env["DB_PATH"]) as con:
        stored = {x[0] for x in con.execute("SELECT match_id FROM matches")}
    assert stored == (set(ids) - {target}) | {after.json()["match_id"]}
    assert set(logged_ids(Path(env["PREDICTION_LOG"]))) == stored
