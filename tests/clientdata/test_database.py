"""The backend's database: expiry by each match's limit, erasure with no byte of the id left."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from clientdata import database
from tests.support.clientdb import NOW, ids, make_db


def test_expiry_keeps_each_match_for_its_own_limit(tmp_path: Path) -> None:
    db = tmp_path / "lawyers.db"
    a, b, c, d = ids(4)
    make_db(db, {a: (10, False), b: (100, False), c: (100, True), d: (800, True)})
    with database.connect(db) as con:
        expired = database.expired_matches(con, NOW - timedelta(days=90), NOW - timedelta(days=730))
        assert sorted(expired) == [b, d]  # unlabelled past 90 days; labelled past 730
        counts = database.expire(con, expired)
        assert counts == {"matches": 2, "match_lawyers": 4, "outcomes": 1, "outcome_history": 1}
        left = sorted(r[0] for r in con.execute("SELECT match_id FROM matches"))
    assert left == [a, c]


def test_erasure_leaves_no_byte_of_the_id_in_any_file_and_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "lawyers.db"
    keep, gone = ids(2)
    make_db(db, {keep: (5, True), gone: (5, True)})
    reader = sqlite3.connect(db)  # the backend's open connection, idle between requests
    reader.execute("SELECT count(*) FROM matches").fetchone()
    assert any(gone.encode() in f.read_bytes() for f in database.database_files(db))
    with database.connect(db) as con:
        counts = database.erase_match(con, gone)
        assert counts == {"match_lawyers": 2, "matches": 1, "outcomes": 1, "outcome_history": 1}
        assert database.scrub(con, db, gone.encode())
        assert database.erase_match(con, gone) == {}
    assert not any(gone.encode() in f.read_bytes() for f in database.database_files(db))
    assert reader.execute("SELECT count(*) FROM matches").fetchone() == (1,)
    reader.close()


def test_a_missing_database_is_an_error_not_a_new_file(tmp_path: Path) -> None:
    with pytest.raises(database.DatabaseError, match="no such database"), database.connect(tmp_path / "x.db"):
        pass
    assert not (tmp_path / "x.db").exists()
