"""The log store's layout and reading: parts by day and host, rows as the reader types them, a copy
counted once, hosts and complete_through, outcome exports, expiry and erasure, private modes, and
bad input named."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from logstore.backend import Backend, StoreError
from logstore.ship import ship
from logstore.store import HostState, LogStore
from ml_model.schema import FEATURES
from tests.logstore.logs import day, expected, rotate_now, stored_keys, write

NOW = day("2026-03-05", 1)


def shipped_log(tmp_path: Path, host: str = "web-1") -> tuple[Path, LogStore]:
    """A log of 60 requests from 2026-03-01 22:00, a minute apart (across midnight), rotated by
    the service, then shipped into the default store beside it."""
    path = tmp_path / "logs" / "predictions.jsonl"
    log = write(path, day("2026-03-01", 22), 180, timedelta(minutes=1), max_bytes=10**9)
    rotate_now(log)
    log.close()
    store = LogStore.open(path.parent / "store")
    ship(path, store, host, now=NOW)
    return path, store


def test_a_file_across_midnight_gives_one_part_per_day_in_the_layout(tmp_path: Path) -> None:
    path, store = shipped_log(tmp_path)
    root = path.parent / "store"
    parts = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))
    assert len(parts) == 2
    assert parts[0].startswith("predictions/day=2026-03-01/host=web-1/")
    assert parts[1].startswith("predictions/day=2026-03-02/host=web-1/")
    assert Path(parts[0]).name == Path(parts[1]).name  # one source file, one source_id
    assert store.days() == [date(2026, 3, 1), date(2026, 3, 2)]
    record = json.loads((root / "hosts" / "web-1.json").read_text())
    assert set(record) == {"host", "last_run", "complete_through", "files_shipped", "rows_shipped"}
    assert record["files_shipped"] == 1 and record["rows_shipped"] == len(expected(path))


def test_a_day_reads_back_as_the_reader_read_it(tmp_path: Path) -> None:
    path, store = shipped_log(tmp_path)
    want = expected(path)
    first = want[want["time"] < datetime(2026, 3, 2, tzinfo=UTC)]
    got = store.read_day(date(2026, 3, 1))
    assert len(got) == len(first) > 0
    assert got["time"].is_monotonic_increasing and str(got["time"].dt.tz) == "UTC"
    assert got["prediction_id"].tolist() == first["prediction_id"].tolist()
    assert got["position"].tolist() == first["position"].tolist()
    assert got["match_probability"].tolist() == first["match_probability"].tolist()
    for name in FEATURES:
        assert got[name].astype(str).tolist() == first[name].astype(str).tolist(), name
    keys = [None if v is None else str(v) for v in first["lawyer_id"]]
    assert got["lawyer_id"].tolist() == keys  # text by lawyer_key; None for /predict lines
    assert set(got["host"].astype(str)) == {"web-1"}
    some = store.read_day(date(2026, 3, 2), ["prediction_id", "lawyer_id"])
    assert list(some.columns) == ["prediction_id", "lawyer_id"] and len(some) == len(want) - len(first)
    assert store.read_day(date(2026, 3, 9)).empty
    with pytest.raises(StoreError, match="no column nope"):
        store.read_day(date(2026, 3, 1), ["nope"])


def test_a_copy_shipped_twice_counts_once_and_other_days_are_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, store = shipped_log(tmp_path)
    one = store.read_day(date(2026, 3, 1))
    part = next((path.parent / "store").glob("predictions/day=2026-03-01/host=web-1/*.parquet"))
    shutil.copyfile(part, part.with_name("0000000000000000.parquet"))  # a second copy of every row
    read: list[str] = []
    original = Backend.read_table

    def spy(self: Backend, rel: str, columns: list[str] | None = None):
        read.append(rel)
        return original(self, rel, columns)

    monkeypatch.setattr(Backend, "read_table", spy)
    again = store.read_day(date(2026, 3, 1))
    assert len(read) == 2 and all(r.startswith("predictions/day=2026-03-01/") for r in read)
    pd.testing.assert_frame_equal(again, one)


def test_a_reship_rewrites_the_same_parts_and_a_rewritten_file_adds_no_copy(tmp_path: Path) -> None:
    path, store = shipped_log(tmp_path)
    root = path.parent / "store"
    before = {p: p.read_bytes() for p in root.rglob("*.parquet")}
    shutil.rmtree(path.with_name(path.name + ".shipped"))  # the ledger lost: everything ships again
    assert ship(path, store, "web-1", now=NOW).files_shipped == 1
    assert {p: p.read_bytes() for p in root.rglob("*.parquet")} == before
    # privacy.py rewrote the file (one line less): a new inode and content, shipped again, no copy
    rotated = path.with_name(path.name + ".1")
    lines = rotated.read_bytes().splitlines(keepends=True)
    rotated.write_bytes(b"".join(lines[1:]))
    result = ship(path, store, "web-1", now=NOW)
    assert result.files_shipped == 1 and result.parts_written == 0
    keys = stored_keys(root)
    assert len(keys) == len(set(keys)) == len(expected(path)) + 1  # the first request had 1 instance


def test_hosts_and_complete_through_of_several_hosts(tmp_path: Path) -> None:
    store = LogStore.open(tmp_path / "store")
    assert store.hosts() == {} and store.complete_through() is None
    a = HostState("a", NOW, day("2026-03-04", 23), 2, 10)
    b = HostState("b", NOW, day("2026-03-03", 12), 1, 5)
    store.put_host(a)
    store.put_host(b)
    assert store.hosts() == {"a": a, "b": b}
    assert store.complete_through() == day("2026-03-03", 12)
    store.put_host(HostState("c", NOW, None, 0, 0))
    assert store.complete_through() is None  # a host that cannot say yet holds every day back
    (tmp_path / "store" / "hosts" / "c.json").write_text('{"host": "c"}')
    with pytest.raises(StoreError, match=r"hosts/c\.json: not a host record"):
        store.hosts()


def _export(path: Path, records: list[dict], age_days: float = 0) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    then = datetime.now(UTC).timestamp() - age_days * 86400
    os.utime(path, (then, then))
    return path


def test_outcome_exports_in_order_the_later_record_wins(tmp_path: Path) -> None:
    store = LogStore.open(tmp_path / "store")
    assert {"match_id", "lawyer_id", "outcome", "label"} <= set(store.outcomes().columns)
    first = _export(
        tmp_path / "outcomes-1.jsonl",
        [
            {"match_id": "m1", "lawyer_id": 7, "outcome": "declined"},
            {"match_id": "m2", "lawyer_id": "L2", "outcome": "engaged"},
        ],
        age_days=2,
    )
    second = _export(
        tmp_path / "outcomes-2.jsonl", [{"match_id": "m1", "lawyer_id": 7.0, "outcome": "engaged"}]
    )
    name = store.put_outcomes(first)
    assert store.put_outcomes(second) != name and store.put_outcomes(first) == name  # same export, same name
    got = store.outcomes().sort_values("match_id", ignore_index=True)
    assert got[["match_id", "lawyer_id", "outcome", "label"]].values.tolist() == [
        ["m1", "7", "engaged", 1],
        ["m2", "L2", "engaged", 1],
    ]
    assert len(list((tmp_path / "store" / "outcomes").iterdir())) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"match_id": "m3", "lawyer_id": 1, "outcome": "engaged"}\n{"match_id": "m4"}\n')
    with pytest.raises(StoreError, match=r"bad\.jsonl: line 2: not an outcome record"):
        store.put_outcomes(bad)
    with pytest.raises(StoreError, match="cannot read"):
        store.put_outcomes(tmp_path / "missing.jsonl")


def test_expire_and_erase(tmp_path: Path) -> None:
    path, store = shipped_log(tmp_path)
    victim = f"{5:032x}"
    _export(tmp_path / "old.jsonl", [{"match_id": "m0", "lawyer_id": 1, "outcome": "engaged"}], age_days=100)
    _export(tmp_path / "new.jsonl", [{"match_id": victim, "lawyer_id": 1, "outcome": "engaged"}])
    for name in ("old.jsonl", "new.jsonl"):
        store.put_outcomes(tmp_path / name)
    rows = len(store.read_day(date(2026, 3, 1)))
    assert store.erase({victim}, apply=False) == 2 + 1  # request 5: two instances, and one outcome
    assert len(store.read_day(date(2026, 3, 1))) == rows  # a dry run changes nothing
    assert store.erase({victim}, apply=True) == 3
    assert victim not in set(store.read_day(date(2026, 3, 1))["prediction_id"])
    assert (
        victim not in set(store.outcomes()["match_id"]) and len(store.read_day(date(2026, 3, 1))) == rows - 2
    )
    assert store.erase({victim}, apply=True) == 0
    # a part whose every row goes is deleted
    only = set(store.read_day(date(2026, 3, 2))["prediction_id"])
    store.erase(only, apply=True)
    assert store.days() == [date(2026, 3, 1)]
    cut = datetime.now(UTC) - timedelta(days=90)
    assert [n.split("-")[1] for n in store.expire_outcomes(cut, apply=False)] == ["old"]
    assert store.expire(date(2026, 3, 2), apply=False) == 1 and store.days() == [date(2026, 3, 1)]
    assert store.expire(date(2026, 3, 2), apply=True) == 1 and store.days() == []
    store.expire_outcomes(cut, apply=True)
    assert len(store.outcomes()) == 0  # the new export's only record was erased, the old one expired
    assert not list((path.parent / "store").rglob(".*"))  # no temporary or trash left


def test_a_folder_store_is_private_from_creation(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path, _ = shipped_log(tmp_path)
    finally:
        os.umask(old)
    root = path.parent / "store"
    for p in [root, *root.rglob("*")]:
        want = 0o700 if p.is_dir() else 0o600
        assert p.stat().st_mode & 0o777 == want, p
    ledger = path.with_name(path.name + ".shipped")
    assert ledger.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in ledger.iterdir())


def test_bad_store_addresses_and_a_corrupt_part_are_named(tmp_path: Path) -> None:
    for uri in ("http://example.org/store", "gs://bucket/prefix"):
        with pytest.raises(StoreError, match="a folder or s3://bucket/prefix"):
            LogStore.open(uri)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(StoreError, match="must be a folder"):
        LogStore.open(a_file)
    with pytest.raises(StoreError, match="needs a bucket"):
        LogStore.open("s3:///prefix")
    with pytest.raises(StoreError, match="AWS_ACCESS_KEY_ID"):
        Backend.open("s3://bucket/prefix", env={})
    path, store = shipped_log(tmp_path / "one")
    part = next((path.parent / "store").glob("predictions/day=2026-03-02/*/*.parquet"))
    part.write_bytes(b"PAR1 not really")
    with pytest.raises(StoreError, match=rf"{part.name}: not a readable Parquet part"):
        store.read_day(date(2026, 3, 2))
    assert len(store.read_day(date(2026, 3, 1))) > 0  # another day does not care


def test_an_s3_address_is_parsed_without_reaching_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """The S3 path itself is measured against the stack's radosgw by ``bench/store_bench.py --s3``."""
    monkeypatch.delenv("AWS_REQUEST_CHECKSUM_CALCULATION", raising=False)
    keys = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    backend = Backend.open(
        "s3://bucket/logs/store/", env={**keys, "MLFLOW_S3_ENDPOINT_URL": "http://127.0.0.1:9"}
    )
    assert not backend.local and backend.root == "bucket/logs/store"
    assert backend.name("hosts/a.json") == "s3://bucket/logs/store/hosts/a.json"
    assert os.environ["AWS_REQUEST_CHECKSUM_CALCULATION"] == "when_required"  # radosgw needs it
    assert Backend.open("s3://bucket", env=keys).root == "bucket"
    with pytest.raises(StoreError, match="not http"):
        Backend.open("s3://bucket/p", env={**keys, "AWS_ENDPOINT_URL": "ftp://x"})
