"""``privacy.py expire`` and ``erase`` cover the log store the shipper fills: day partitions past the
prediction log's limit and outcome exports past theirs go (a dry run only lists them), an erased
match leaves no row or record there and does not come back with the next shipment, and the
command waits for a shipper in the middle of a file rather than racing it."""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clientdata import actions, log_store
from clientdata.config import Retention, Stores
from logstore.ledger import ledger_lock
from logstore.ship import ship
from logstore.store import LogStore
from ml_model.prediction_log_reader import log_files
from tests.logstore.logs import rotate_now, stored_keys, write

NOW = datetime.now(UTC)


def host_with_store(tmp_path: Path) -> tuple[Stores, LogStore]:
    """A host whose log (200 days ago, then 3 days ago) was shipped; its stores, all in tmp_path."""
    path = tmp_path / "logs" / "predictions.jsonl"
    log = write(path, NOW - timedelta(days=200), 5, timedelta(minutes=1))
    rotate_now(log)
    write(path, NOW - timedelta(days=3), 5, timedelta(minutes=1), first_id=100).close()
    rotate_now(log)
    log.close()
    store_dir = path.parent / "store"
    ship(path, LogStore.open(store_dir), "web-1")
    stores = Stores(
        prediction_log=path,
        database=tmp_path / "db" / "lawyers.db",  # none: the database is not this test's
        exports=tmp_path / "exports",
        unstored=tmp_path / "db" / "unstored_matches.jsonl",
        reports=tmp_path / "reports",
        data=tmp_path / "data",
        log_store=str(store_dir),
    )
    return stores, LogStore.open(store_dir)


def put_export(store: LogStore, path: Path, records: list[dict], age_days: float) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    then = NOW.timestamp() - age_days * 86400
    os.utime(path, (then, then))
    store.put_outcomes(path)


def test_expire_lists_then_removes_old_days_and_exports_from_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(actions, "_data_versions", lambda *a: None)  # DVC's cache is not this test's
    stores, store = host_with_store(tmp_path)
    put_export(
        store, tmp_path / "outcomes-old.jsonl", [{"match_id": "a", "lawyer_id": 1, "outcome": "engaged"}], 100
    )
    put_export(
        store, tmp_path / "outcomes-new.jsonl", [{"match_id": "b", "lawyer_id": 1, "outcome": "engaged"}], 1
    )
    days = store.days()
    assert len(days) == 2
    limits = Retention.load()
    dry = actions.expire(stores, limits, NOW, apply=False)
    assert not dry.problems
    said = "\n".join(dry.done)
    assert f"Would delete 1 day(s) of predictions ({days[0]} to {days[0]})" in said
    assert "outcomes-old" in said and "outcomes-new" not in said
    assert store.days() == days and len(store.outcomes()) == 2  # a dry run changes nothing
    done = actions.expire(stores, limits, NOW, apply=True)
    assert not done.problems and "Deleted 1 day(s) of predictions" in "\n".join(done.done)
    assert store.days() == days[1:]
    assert store.outcomes()["match_id"].tolist() == ["b"]
    again = actions.expire(stores, limits, NOW, apply=True)
    assert again.done == ["Nothing is past its limit."]


def test_erase_removes_the_match_from_the_store_and_it_does_not_come_back(tmp_path: Path) -> None:
    stores, store = host_with_store(tmp_path)
    target = f"{101:032x}"
    put_export(
        store,
        tmp_path / "outcomes-1.jsonl",
        [
            {"match_id": target, "lawyer_id": 1, "outcome": "engaged"},
            {"match_id": "c" * 32, "lawyer_id": 2, "outcome": "declined"},
        ],
        1,
    )
    before = stored_keys(Path(stores.log_store))
    out = actions.erase(stores, target)
    assert not out.problems, out.problems
    said = "\n".join(out.done)
    assert "prediction log line(s)" in said and f"of match {target} from the log store" in said
    after = stored_keys(Path(stores.log_store))
    assert {k for k in before if k[0] != target} == set(after) and target not in {k[0] for k in after}
    assert store.outcomes()["match_id"].tolist() == ["c" * 32]
    ship(stores.prediction_log, store, "web-1")  # the rewritten log file ships again: no copy, no return
    assert sorted(stored_keys(Path(stores.log_store))) == sorted(after)
    for f in log_files(stores.prediction_log):
        assert target.encode() not in f.read_bytes()
    again = actions.erase(stores, target)
    assert "nothing on this host holds it" in "\n".join(again.done)


def test_the_command_waits_for_the_shipper_and_says_so_when_it_does_not_let_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores, _ = host_with_store(tmp_path)
    monkeypatch.setattr(log_store, "SHIPPER_WAIT_S", 0.2)
    fd = os.open(ledger_lock(stores.prediction_log), os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a shipper in the middle of a file (another descriptor: flock's rule)
    try:
        out = actions.erase(stores, f"{101:032x}")
    finally:
        os.close(fd)
    assert any("a shipper" in p for p in out.problems), out.problems
    assert f"{101:032x}" in {k[0] for k in stored_keys(Path(stores.log_store))}  # left as it was


def test_the_store_is_found_as_the_shipper_finds_it(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "predictions.jsonl"
    assert Stores.from_env({"PREDICTION_LOG": str(log)}).log_store == str(tmp_path / "logs" / "store")
    env = {"PREDICTION_LOG": str(log), "LOG_STORE": "s3://bucket/logs"}
    assert Stores.from_env(env).log_store == "s3://bucket/logs"
    stores, _ = host_with_store(tmp_path / "h")
    out = actions.erase(replace(stores, log_store="ftp://nowhere/store"), "d" * 32)
    assert any("could not be opened" in p for p in out.problems)
