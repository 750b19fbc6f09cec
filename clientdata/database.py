"""The backend's SQLite database: expiring matches past their limit, erasing one match.

Python's own ``sqlite3`` on the file the backend has open (WAL or rollback journal, whichever the
backend chose). ``secure_delete`` makes SQLite overwrite what it deletes with zeros, and a
``TRUNCATE`` checkpoint empties the WAL, so an erased id leaves no byte in the database's files;
``VACUUM`` is the last resort when older free space (a correction made before this ran) still
holds it. Deletes go in small transactions so the backend waits at most a few milliseconds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path

BATCH = 200  # matches per transaction while expiring
BUSY_TIMEOUT_MS = 5000


class DatabaseError(RuntimeError):
    """The database cannot be opened or stays busy."""


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """An existing database, never a new one; deletes cascade and are overwritten."""
    if not path.exists():
        raise DatabaseError(f"{path}: no such database (DB_PATH)")
    try:
        con = sqlite3.connect(
            f"file:{path}?mode=rw", uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000
        )
    except sqlite3.Error as exc:
        raise DatabaseError(f"{path}: {exc}") from None
    with closing(con):
        con.execute("PRAGMA foreign_keys = ON")
        con.execute("PRAGMA secure_delete = ON")
        yield con


def match_tables(con: sqlite3.Connection) -> list[str]:
    """Every table with a ``match_id`` column, each before the tables it references, so every row
    is deleted (and counted) by its own table's statement rather than by a cascade."""
    names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    with_id = [n for n in names if any(c[1] == "match_id" for c in con.execute(f'PRAGMA table_info("{n}")'))]
    parents = {
        n: {r[2] for r in con.execute(f'PRAGMA foreign_key_list("{n}")')} & set(with_id) for n in with_id
    }

    def depth(table: str, seen: frozenset[str] = frozenset()) -> int:
        return 1 + max((depth(p, seen | {table}) for p in parents[table] - seen), default=0)

    return sorted(with_id, key=depth, reverse=True)


def _delete(con: sqlite3.Connection, ids: list[str]) -> dict[str, int]:
    """Delete every row of ``ids`` from every table that names a match, in one transaction."""
    counts: dict[str, int] = {}
    marks = ",".join("?" * len(ids))
    con.execute("BEGIN IMMEDIATE")
    try:
        for table in match_tables(con):
            n = con.execute(f'DELETE FROM "{table}" WHERE match_id IN ({marks})', ids).rowcount
            if n:
                counts[table] = n
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def erase_match(con: sqlite3.Connection, match_id: str) -> dict[str, int]:
    """Remove one match everywhere in the database; rows removed per table (empty: none was there)."""
    return _delete(con, [match_id])


def expired_matches(
    con: sqlite3.Connection, unlabelled_before: datetime, labelled_before: datetime
) -> list[str]:
    """Matches past their limit: no outcome and older than the labelling window, or older than the
    labelled limit. Times are the backend's ISO strings (``toISOString()``), which order as text."""
    rows = con.execute(
        """SELECT m.match_id FROM matches m
           WHERE m.created_at < ?
              OR (m.created_at < ? AND NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.match_id = m.match_id))""",
        (_iso(labelled_before), _iso(unlabelled_before)),
    )
    return [r[0] for r in rows]


def expire(con: sqlite3.Connection, ids: list[str]) -> dict[str, int]:
    """Delete ``ids`` a batch per transaction; rows removed per table."""
    total: dict[str, int] = {}
    for i in range(0, len(ids), BATCH):
        for table, n in _delete(con, ids[i : i + BATCH]).items():
            total[table] = total.get(table, 0) + n
    return total


def scrub(con: sqlite3.Connection, path: Path, needle: bytes) -> bool:
    """Empty the WAL into the database and check its files for ``needle``; VACUUM once if free space
    still holds it. True when no file of the database holds it any more."""
    for attempt in range(2):
        busy = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if not busy and not any(needle in f.read_bytes() for f in database_files(path)):
            return True
        if attempt == 0:
            con.execute("VACUUM")
    return False


def database_files(path: Path) -> list[Path]:
    """The database and the journal files SQLite keeps beside it."""
    return [
        p
        for p in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal")))
        if p.exists()
    ]


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
