"""A backend database for tests: the backend's own migrations, matches of chosen ages."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ml_model.paths import REPO_ROOT

MIGRATIONS = sorted((REPO_ROOT / "backend" / "migrations").glob("*.sql"))
NOW = datetime.now(UTC)


def iso(days_ago: float) -> str:
    """The backend's time format (``toISOString()``), ``days_ago`` before NOW."""
    return (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def make_db(path: Path, matches: dict[str, tuple[float, bool]]) -> None:
    """The backend's schema (its migrations, WAL as the backend runs it); ``matches``: id -> (age in
    days, has an outcome), each shown with two lawyers; an outcome corrected once."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = WAL")
    for sql in MIGRATIONS:
        con.executescript(sql.read_text())
    for lid in (1, 2):
        con.execute(
            "INSERT INTO lawyers (id, name, specialization, region, experience_years, rating, active_cases,"
            " hourly_rate, lat, lon) VALUES (?, 'L', 'housing', 'north', 5, 4, 3, 100, 0, 0)",
            (lid,),
        )
    for mid, (age, labelled) in matches.items():
        con.execute("INSERT INTO matches VALUES (?, ?, 'v1')", (mid, iso(age)))
        for rank, lid in enumerate((1, 2), start=1):
            con.execute("INSERT INTO match_lawyers VALUES (?, ?, ?, 0.5)", (mid, lid, rank))
        if labelled:
            con.execute(
                "INSERT INTO outcomes VALUES (?, 1, 'declined', 0, ?, ?, 'first note')",
                (mid, iso(age), iso(age)),
            )
            con.execute(
                "INSERT INTO outcome_history (match_id, lawyer_id, outcome, label, occurred_at, recorded_at,"
                " note, replaced_at) VALUES (?, 1, 'declined', 0, ?, ?, 'first', ?)",
                (mid, iso(age), iso(age), iso(age)),
            )
            con.execute("UPDATE outcomes SET outcome = 'engaged', label = 1 WHERE match_id = ?", (mid,))
    con.commit()
    con.close()


def ids(n: int) -> list[str]:
    """``n`` distinct match ids in the service's format."""
    return [f"{i:032x}" for i in range(1, n + 1)]
