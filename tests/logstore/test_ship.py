"""The shipper: oldest first, each rotated file once, rotation after midnight only, rejected lines
left out, a file that moves or vanishes mid-run handled, and safe while the service writes."""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from logstore import ship as ship_module
from logstore.ledger import Ledger
from logstore.ship import LATE_SLACK, ship
from logstore.store import LogStore
from ml_model.prediction_log import ship_key
from ml_model.prediction_log_reader import log_files, rotated_path
from tests.logstore.logs import day, entry, expected, rotate_now, stored_keys, write

NOW = day("2026-03-05", 0, 30)


def keys_of(path: Path) -> list[tuple[str, int]]:
    """(prediction_id, position) of every row of the window at ``path``."""
    frame = expected(path)
    return list(zip(frame["prediction_id"], frame["position"].tolist(), strict=True))


def live_keys(path: Path, scratch: Path) -> list[tuple[str, int]]:
    """The same for the live file alone (a copy of it, away from its rotated files)."""
    if not path.exists() or not path.stat().st_size:
        return []
    scratch.mkdir()
    shutil.copyfile(path, scratch / "live.jsonl")
    return keys_of(scratch / "live.jsonl")


def test_rotated_files_ship_oldest_first_and_the_live_file_rotates_after_midnight(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    path = tmp_path / "predictions.jsonl"
    log = write(path, day("2026-03-02", 10), 30, timedelta(minutes=30), keep=10)
    rotate_now(log)
    write(path, day("2026-03-03", 1), 20, timedelta(minutes=30), first_id=100, keep=10).close()
    rotate_now(log)
    log.write(entry(200, day("2026-03-04", 23, 50)))  # the live file: yesterday's last request
    log.close()
    want = sorted(keys_of(path))
    store = LogStore.open(tmp_path / "store")
    result = ship(path, store, "h", now=NOW)
    assert result.rotated and result.files_shipped == 3 and not path.exists()
    assert result.shipped == ["predictions.jsonl.3", "predictions.jsonl.2", "predictions.jsonl.1"]
    assert sorted(stored_keys(tmp_path / "store")) == want
    assert result.complete_through == NOW - LATE_SLACK  # nothing left in a live file
    assert [d.isoformat() for d in store.days()] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    again = ship(path, store, "h", now=NOW)
    assert again.files_shipped == 0 and not again.rotated
    assert sorted(stored_keys(tmp_path / "store")) == want
    assert "Shipped" in caplog.text and "prediction_id" not in caplog.text


def test_no_rotation_of_todays_file_nor_with_no_rotate_and_complete_through_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "predictions.jsonl"
    write(path, day("2026-03-05", 0, 5), 3, timedelta(minutes=1)).close()
    store = LogStore.open(tmp_path / "store")
    result = ship(path, store, "h", now=NOW)
    assert not result.rotated and result.files_shipped == 0 and path.exists()
    assert result.complete_through == day("2026-03-05", 0, 5) - LATE_SLACK
    assert store.hosts()["h"].complete_through == result.complete_through
    write(path, day("2026-03-04", 23), 1, timedelta(0), first_id=50).close()  # a late line of yesterday
    assert not ship(path, store, "h", now=NOW, rotate=False).rotated
    monkeypatch.setenv("PREDICTION_LOG_MAX_BYTES", "0")  # logrotate's job then
    assert not ship(path, store, "h", now=NOW).rotated
    monkeypatch.delenv("PREDICTION_LOG_MAX_BYTES")
    result = ship(path, store, "h", now=NOW)  # an earlier day among its first lines: rotated
    assert result.rotated and result.files_shipped == 1 and len(stored_keys(tmp_path / "store")) == 7


def test_rejected_lines_are_not_shipped_and_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    log = write(path, day("2026-03-03", 10), 4, timedelta(minutes=1))
    log.close()
    with open(path, "ab") as fh:
        fh.write(b'{"time": "2026-03-03T10:09:00+00:00", "match_probability": "high"}\n')
        fh.write(b"not json\n")
    want = sorted(keys_of(path))
    result = ship(path, LogStore.open(tmp_path / "store"), "h", now=NOW)
    assert result.lines_rejected == 2 and sorted(stored_keys(tmp_path / "store")) == want


def test_a_file_renamed_or_deleted_between_listing_and_shipping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    path = tmp_path / "predictions.jsonl"
    log = write(path, day("2026-03-02", 10), 5, timedelta(hours=1), keep=10)
    rotate_now(log)
    write(path, day("2026-03-03", 10), 5, timedelta(hours=1), first_id=10, keep=10).close()
    rotate_now(log)
    write(path, day("2026-03-05", 0, 1), 2, timedelta(minutes=1), first_id=20, keep=10).close()
    real = ship_module._listing
    calls = 0

    def stale(p: Path):
        """The first listing is taken, then the service rotates and privacy.py deletes the oldest."""
        nonlocal calls
        calls += 1
        view = real(p)
        if calls == 1:
            rotate_now(log)
            os.unlink(rotated_path(path, 3))  # was .2 at the listing: the oldest, now gone
        return view

    monkeypatch.setattr(ship_module, "_listing", stale)
    result = ship(path, LogStore.open(tmp_path / "store"), "h", now=NOW, rotate=False)
    assert result.files_vanished == 1 and "vanished" in caplog.text
    assert result.shipped == ["predictions.jsonl.2", "predictions.jsonl.1"]  # .1 found again as .2
    assert sorted(stored_keys(tmp_path / "store")) == sorted(keys_of(path))  # .2 and .1 now


def _writer(path: str, count: int) -> None:
    log = write(Path(path), datetime.now(UTC), count, timedelta(0), first_id=1000, max_bytes=3000, keep=2)
    log.close()


def test_shipping_while_the_service_writes_and_rotates_loses_and_doubles_nothing(tmp_path: Path) -> None:
    """A writer rotating every few lines (keep=2) while the shipper runs again and again: every
    request ends up in the store or in the live file, exactly once, and rotation never deleted an
    unshipped file (the ledger exists from the first run)."""
    path = tmp_path / "predictions.jsonl"
    store = LogStore.open(tmp_path / "store")
    ship(path, store, "h", rotate=False)  # creates the ledger before the service writes
    writer = multiprocessing.get_context("fork").Process(target=_writer, args=(str(path), 600))
    writer.start()
    runs = 0
    while writer.is_alive() or runs < 2:
        ship(path, store, "h", rotate=False)
        runs += 1
    writer.join(60)
    assert writer.exitcode == 0 and runs >= 2
    ship(path, store, "h", rotate=False)
    in_store = stored_keys(tmp_path / "store")
    live = live_keys(path, tmp_path / "live")
    rotated = [f for f in log_files(path) if f != path]
    assert all(Ledger(path).shipped(os.stat(f)) for f in rotated)  # what is left is shipped
    assert len(in_store) == len(set(in_store))
    assert sorted(set(in_store) | set(live)) == sorted(
        (f"{1000 + k:032x}", p) for k in range(600) for p in range(1 + k % 4)
    )
    assert not set(in_store) & set(live)


def test_a_marker_is_keyed_by_inode_size_and_mtime(tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    log = write(path, day("2026-03-02", 10), 2, timedelta(hours=1))
    rotate_now(log)
    log.close()
    ship(path, LogStore.open(tmp_path / "store"), "h", now=NOW, rotate=False)
    st = os.stat(rotated_path(path, 1))
    ledger = path.with_name(path.name + ".shipped")
    assert [p.name for p in ledger.iterdir() if not p.name.startswith(".")] == [ship_key(st)]
    os.unlink(rotated_path(path, 1))
    ship(path, LogStore.open(tmp_path / "store"), "h", now=NOW, rotate=False)
    assert [p.name for p in ledger.iterdir() if not p.name.startswith(".")] == []  # pruned
