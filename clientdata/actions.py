"""``expire`` and ``erase``: what each store gives up, said in sentences, done or only reported.

The log store the shippers fill (``clientdata.log_store``) is covered with the prediction log, both
under the host's shipping lock, so a shipper cannot put back what was just removed.

Every step says what it removed (or, without ``apply``, would remove) and where; a step that
cannot finish is a problem, and the command exits non-zero, having changed nothing it could not
finish (each file is replaced whole, each database delete is one transaction).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from clientdata import database, log_store
from clientdata.config import Retention, Stores, cutoff
from clientdata.files import (
    MATCH_ID,
    dated_before,
    holding,
    line_files,
    modified_before,
    names_match,
    older_than,
    stamped_before,
)
from clientdata.lines import Busy, Drop, rewrite
from logstore.ledger import Busy as ShipperBusy
from ml_model.paths import REPO_ROOT
from ml_model.prediction_log_reader import lock_path, log_files

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """The sentences a run printed, and what it could not do (any: exit 1)."""

    done: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def say(self, sentence: str) -> None:
        self.done.append(sentence)
        log.info("%s", sentence)

    def fail(self, sentence: str) -> None:
        self.problems.append(sentence)
        log.error("%s", sentence)


def _count(path: Path, drop: Drop) -> int:
    with open(path, "rb") as fh:
        return sum(1 for line in fh if drop(line))


def _lines(out: Outcome, files: list[Path], drop: Drop, lock: Path | None, apply: bool, what: str) -> None:
    """Remove (or count) the lines ``drop`` chooses from each file."""
    for path in files:
        try:
            if not apply:
                n = _count(path, drop)
                if n:
                    out.say(f"Would remove {n:,} {what} from {path}.")
                continue
            result = rewrite(path, drop, lock)
        except Busy as exc:
            out.fail(f"Left {path} as it was: {exc}.")
            continue
        except FileNotFoundError:
            continue  # rotated away or expired between listing and reading: nothing of it is left here
        if result.removed:
            tail = "and deleted the emptied file" if result.deleted else f"kept {result.kept:,}"
            out.say(f"Removed {result.removed:,} {what} from {path} ({tail}).")


def _unlink(out: Outcome, files: list[Path], apply: bool, what: str) -> None:
    for path in files:
        if apply:
            path.unlink(missing_ok=True)
        out.say(f"{'Deleted' if apply else 'Would delete'} {what} {path}.")


def expire(stores: Stores, limits: Retention, now: datetime, apply: bool) -> Outcome:
    """Everything past its limit in every store (see params.yaml ``retention``)."""
    out = Outcome()
    log_cut = cutoff(now, limits.prediction_log_days)
    files = log_files(stores.prediction_log) if stores.prediction_log.parent.is_dir() else []
    lock = lock_path(stores.prediction_log)
    try:
        with log_store.shipping_paused(stores.prediction_log) if apply else contextlib.nullcontext():
            _lines(
                out,
                [f for f in files if f.exists()],
                older_than(log_cut),
                lock,
                apply,
                f"lines served before {log_cut:%Y-%m-%d}",
            )
            log_store.expire(out, stores, limits, now, apply)
    except ShipperBusy as exc:
        out.fail(f"Left the prediction log and the log store as they were: {exc} (a shipper); run again.")
    if stores.database.exists():
        with database.connect(stores.database) as con:
            ids = database.expired_matches(
                con, cutoff(now, limits.unlabelled_matches_days), cutoff(now, limits.labelled_matches_days)
            )
            if ids and apply:
                counts = database.expire(con, ids)
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                out.say(
                    f"Deleted {len(ids):,} matches past their limit from {stores.database} ({_rows(counts)})."
                )
            elif ids:
                out.say(f"Would delete {len(ids):,} matches past their limit from {stores.database}.")
    _unlink(
        out,
        modified_before(stores.exports, cutoff(now, limits.outcome_exports_days), ".jsonl"),
        apply,
        "outcome export",
    )
    report_cut = cutoff(now, limits.monitor_reports_days)
    _unlink(out, stamped_before(stores.reports, report_cut), apply, "report")
    _unlink(out, dated_before(stores.reports / "daily", report_cut.date()), apply, "daily monitor record")
    _workspace(out, stores.workspace, report_cut, apply)
    _data_versions(out, cutoff(now, limits.data_versions_days), apply)
    if not out.done and not out.problems:
        out.say("Nothing is past its limit.")
    return out


def _workspace(out: Outcome, root: Path, before: datetime, apply: bool) -> None:
    """The daily monitor's dashboard keeps the reports' limit too (its snapshots hold no row)."""
    if not (root / "index.json").is_file():
        return
    from mlops.sidecar.workspace import expire_days  # Evidently's API: imported only when there is one

    days = expire_days(root, before.date(), apply)
    if days:
        out.say(
            f"{'Deleted' if apply else 'Would delete'} the dashboard's snapshots of {len(days)} day(s) "
            f"before {before:%Y-%m-%d} from {root}."
        )


def _data_versions(out: Outcome, before: datetime, apply: bool) -> None:
    """Data versions in DVC's local cache that no commit since ``before`` (nor the workspace) uses and
    that entered the cache before it. ``dvc gc --date`` alone would also drop a version made today
    and not committed yet, so it only lists (``--dry``) and the age filter decides. The shared remote
    is purged by an operator (README "Erasure and retention"): a wrong date there loses every clone's data."""
    if not (REPO_ROOT / ".dvc").is_dir():
        return
    beside = Path(sys.executable).parent / "dvc"  # the venv's, also when run without activating it
    dvc = str(beside) if beside.exists() else shutil.which("dvc")
    if dvc is None:
        out.fail("DVC is not installed here: data versions past their limit were not looked for.")
        return
    cmd = [dvc, "gc", "--workspace", "--date", f"{before:%Y-%m-%d}", "--force", "--dry"]
    r = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        out.fail(f"dvc gc --dry failed ({r.returncode}): {(r.stderr or r.stdout).strip()[-300:]}")
        return
    unused = [
        Path(line.removeprefix("Removing ")) for line in r.stdout.splitlines() if line.startswith("Removing ")
    ]
    old = [p for p in unused if p.is_file() and datetime.fromtimestamp(p.stat().st_mtime, UTC) < before]
    for path in old if apply else []:
        path.unlink(missing_ok=True)
    if old:
        verb = "Removed" if apply else "Would remove"
        out.say(
            f"{verb} {len(old):,} data version file(s) from DVC's cache that entered it before "
            f"{before:%Y-%m-%d} and that no later commit uses."
        )


def _rows(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} from {t}" for t, n in sorted(counts.items())) or "no rows"


def erase(stores: Stores, match_id: str) -> Outcome:
    """One match, everywhere this host holds it; then every folder is searched for its id."""
    if not MATCH_ID.fullmatch(match_id):
        raise ValueError(
            f"--match-id must be 32 lowercase hex characters (the search's reference), got {match_id!r}"
        )
    out = Outcome()
    drop, needle = names_match(match_id), match_id.encode()
    files = (
        [f for f in log_files(stores.prediction_log) if f.exists()]
        if stores.prediction_log.parent.is_dir()
        else []
    )
    try:
        with log_store.shipping_paused(stores.prediction_log):
            _lines(out, files, drop, lock_path(stores.prediction_log), True, "prediction log line(s)")
            log_store.erase(out, stores, match_id)
    except ShipperBusy as exc:
        out.fail(f"Left the prediction log and the log store as they were: {exc} (a shipper); run again.")
    if stores.database.exists():
        with database.connect(stores.database) as con:
            counts = database.erase_match(con, match_id)
            if counts:
                out.say(f"Deleted match {match_id} from {stores.database} ({_rows(counts)}).")
            if not database.scrub(con, stores.database, needle):
                out.fail(
                    f"{stores.database}: the id is still in its files (the database stayed busy); run again."
                )
    folders = [
        stores.prediction_log.parent,
        stores.database.parent,
        stores.unstored.parent,
        stores.exports,
        stores.reports,
    ]
    others = [
        f for f in line_files(folders) if f not in files and not f.name.startswith(stores.database.name)
    ]
    _lines(out, others, drop, None, True, "line(s)")
    for path in holding(folders, needle):
        out.fail(f"{path} still holds the id: remove it by hand or restore it from a copy without it.")
    if not out.done and not out.problems:
        out.say(f"Match {match_id}: nothing on this host holds it (already erased, or never stored here).")
    return out
