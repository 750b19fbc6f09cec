"""Files that hold clients' data: which lines name a match, which files are past their limit,
and whether any byte of an erased id is left anywhere."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

import orjson

from clientdata.lines import Drop

CHUNK = 1 << 20
MATCH_ID = re.compile(r"[0-9a-f]{32}")  # the service's prediction_id: uuid4 hex
_STAMP = re.compile(r"_(\d{8}_\d{6})\.")  # mlops/reports: <kind>_<YYYYmmdd_HHMMSS>.<ext>
_DAY = re.compile(r"_(\d{4}-\d{2}-\d{2})\.")  # mlops/reports/daily: alert_<YYYY-mm-dd>.json
LINE_FILES = (".jsonl", ".log")  # line-oriented files whose lines naming a match can be removed


def names_match(match_id: str) -> Drop:
    """A line predicate: the line holds the id anywhere (its ``prediction_id``, an export's
    ``match_id``, a text log line that mentions it): erasure leaves no byte of it."""
    needle = match_id.encode()
    return lambda line: needle in line


def older_than(cutoff: datetime, key: str = "time") -> Drop:
    """A line predicate: the record's ``key`` (an ISO time; the prediction log's ``time``) is before
    ``cutoff``. A line whose time cannot be read is kept (and counted by the dry run): it is not
    dated, so it is not past a limit."""
    prefix = re.compile(rb'^\{"' + re.escape(key.encode()) + rb'":"([^"]+)"')  # the log's lines begin so

    def drop(line: bytes) -> bool:
        m = prefix.match(line)
        raw = m.group(1).decode() if m else None
        if raw is None:
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                return False
            raw = record.get(key) if isinstance(record, dict) else None
        if not isinstance(raw, str):
            return False
        try:
            when = datetime.fromisoformat(raw)
        except ValueError:
            return False
        return (when if when.tzinfo else when.replace(tzinfo=UTC)) < cutoff

    return drop


def stamped_before(folder: Path, cutoff: datetime) -> list[Path]:
    """Files in ``folder`` whose name carries a UTC time (``*_YYYYmmdd_HHMMSS.*``) before ``cutoff``."""
    if not folder.is_dir():
        return []
    out = []
    for p in sorted(folder.iterdir()):
        m = _STAMP.search(p.name)
        if p.is_file() and m and datetime.strptime(m.group(1), "%Y%m%d_%H%M%S").replace(tzinfo=UTC) < cutoff:
            out.append(p)
    return out


def dated_before(folder: Path, cutoff: date) -> list[Path]:
    """Files in ``folder`` whose name carries a UTC day (``*_YYYY-mm-dd.*``, the daily monitor's
    alert records) before ``cutoff``."""
    if not folder.is_dir():
        return []
    out = []
    for p in sorted(folder.iterdir()):
        m = _DAY.search(p.name)
        if p.is_file() and m and date.fromisoformat(m.group(1)) < cutoff:
            out.append(p)
    return out


def modified_before(folder: Path, cutoff: datetime, suffix: str) -> list[Path]:
    """Files ``*suffix`` in ``folder`` last written before ``cutoff`` (an export is written once)."""
    if not folder.is_dir():
        return []
    return [
        p
        for p in sorted(folder.glob(f"*{suffix}"))
        if p.is_file() and datetime.fromtimestamp(p.stat().st_mtime, UTC) < cutoff
    ]


def line_files(folders: Iterable[Path]) -> list[Path]:
    """The line-oriented files in ``folders`` (recursively), rotated ones (``x.jsonl.3``) included."""
    out: set[Path] = set()
    for folder in folders:
        if folder.is_dir():
            for p in folder.rglob("*"):
                if (
                    p.is_file()
                    and any(s in p.name for s in LINE_FILES)
                    and not p.name.endswith((".lock", ".tmp"))
                ):
                    out.add(p)
    return sorted(out)


def holding(folders: Iterable[Path], needle: bytes) -> list[Path]:
    """Every file under ``folders`` that contains ``needle`` (read in chunks, never whole)."""
    return sorted(
        {
            p
            for folder in folders
            if folder.is_dir()
            for p in folder.rglob("*")
            if p.is_file() and contains(p, needle)
        }
    )


def contains(path: Path, needle: bytes) -> bool:
    """Whether ``path`` holds ``needle``, reading a chunk at a time (a match across chunks counts)."""
    tail = b""
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                if needle in tail + chunk:
                    return True
                tail = chunk[-(len(needle) - 1) :]
    except OSError:
        return False
    return False
