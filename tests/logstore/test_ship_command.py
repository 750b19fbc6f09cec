"""``python scripts/ship_logs.py`` as an operator types it, on a log the service's writer wrote: after
midnight it rotates the live file and ships every row once; settings and bad input are refused by
name with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from logstore.ship import LATE_SLACK
from logstore.store import LogStore
from ml_model.paths import REPO_ROOT
from tests.logstore.logs import expected, rotate_now, stored_keys, write

SCRIPT = REPO_ROOT / "scripts" / "ship_logs.py"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def setup(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Two days ago into yesterday (rotated by size), yesterday evening (still the live file)."""
    path = tmp_path / "logs" / "predictions.jsonl"
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    log = write(path, today - timedelta(days=1, hours=1), 50, timedelta(minutes=3))
    rotate_now(log)
    log.close()
    write(path, today - timedelta(hours=3), 40, timedelta(minutes=2), first_id=1000).close()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PREDICTION_LOG": str(path), "LOG_HOST": "web-1"}
    return path, env


def test_a_run_after_midnight_ships_everything_once_and_a_second_run_nothing(tmp_path: Path) -> None:
    path, env = setup(tmp_path)
    want = expected(path)
    before = datetime.now(UTC)
    first = run(env)
    after = datetime.now(UTC)
    assert first.returncode == 0, first.stderr
    assert "Rotated" in first.stderr and "shipped 2 file(s)" in first.stderr, first.stderr
    store_dir = path.parent / "store"
    keys = stored_keys(store_dir)
    assert sorted(keys) == sorted(zip(want["prediction_id"], want["position"].tolist(), strict=True))
    assert len(keys) == len(set(keys))
    store = LogStore.open(store_dir)
    assert len(store.days()) == 2 and len(list(store_dir.rglob("*.parquet"))) == 3  # 2 + 1 parts
    assert sum(len(store.read_day(d)) for d in store.days()) == len(want)
    state = store.hosts()["web-1"]
    assert state.files_shipped == 2 and state.rows_shipped == len(want)
    assert state.complete_through is not None  # the live file is empty: the run's time, less the slack
    assert before - LATE_SLACK <= state.complete_through <= after - LATE_SLACK
    for text in (first.stdout, first.stderr):
        assert f"{1000:032x}" not in text  # no row, no id is logged
    again = run(env)
    assert again.returncode == 0 and "shipped 0 file(s)" in again.stderr, again.stderr
    assert sorted(stored_keys(store_dir)) == sorted(keys)


def test_help_settings_and_bad_input(tmp_path: Path) -> None:
    path, env = setup(tmp_path)
    assert run(env, "--help").returncode == 0
    bad = run(env, "--store", "ftp://host/store")
    assert bad.returncode == 2 and "a folder or s3://bucket/prefix" in bad.stderr
    bad = run({**env, "LOG_HOST": "a/b"}, "--no-rotate")
    assert bad.returncode == 2 and "host name 'a/b'" in bad.stderr
    bad = run({**env, "PREDICTION_LOG_KEEP": "many"})
    assert bad.returncode == 2 and "PREDICTION_LOG_KEEP" in bad.stderr
    export = tmp_path / "outcomes-x.jsonl"
    export.write_text(json.dumps({"match_id": "m", "lawyer_id": 1, "outcome": "engaged"}) + "\n{}\n")
    bad = run(env, "--outcomes", str(export))
    assert bad.returncode == 2 and "outcomes-x.jsonl: line 2" in bad.stderr, bad.stderr
    assert not (path.parent / "store").exists()  # bad input changed nothing
    export.write_text(json.dumps({"match_id": "m", "lawyer_id": 1, "outcome": "engaged"}) + "\n")
    other = tmp_path / "elsewhere"
    ok = run({**env, "LOG_STORE": str(other)}, "--outcomes", str(export), "--no-rotate")
    assert ok.returncode == 0, ok.stderr
    assert LogStore.open(other).outcomes()["match_id"].tolist() == ["m"]
    assert path.exists() and "shipped 1 file(s)" in ok.stderr  # --no-rotate: the live file stays
