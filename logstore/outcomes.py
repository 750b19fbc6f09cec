"""Outcome exports in the store: named by when they were exported and by their content.

A name is ``<export's mtime, UTC>-<its file name>-<sha256[:12]>.jsonl``: the names sort in export
order (so a later record of a pair wins), putting the same export twice is one object, and
``privacy.py expire`` ages an export by the time in its name (a copy's own mtime is the copy's).
Records are checked and read by the sidecar's own reader (``feedback.read_outcomes``), so the
store holds exactly what ``collect_feedback.py`` accepts.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from logstore.backend import StoreError
from ml_model.schema import SchemaError

PREFIX = "outcomes/"
NAME = re.compile(r"(\d{8}T\d{6}Z)-[A-Za-z0-9._-]*-([0-9a-f]{12})\.jsonl")
STAMP = "%Y%m%dT%H%M%SZ"


def store_name(path: Path, data: bytes) -> str:
    """The store's name for the export at ``path`` holding ``data``."""
    stamp = datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime(STAMP)
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", path.name.removesuffix(".jsonl")).lstrip(".")[:80] or "export"
    return f"{stamp}-{stem}-{hashlib.sha256(data).hexdigest()[:12]}.jsonl"


def exported_at(name: str) -> datetime | None:
    """When the export named ``name`` was written (None for a name this module did not give)."""
    m = NAME.fullmatch(name)
    return datetime.strptime(m.group(1), STAMP).replace(tzinfo=UTC) if m else None


def digest_of(name: str) -> str | None:
    """The content digest in a store name."""
    m = NAME.fullmatch(name)
    return m.group(2) if m else None


def parse(data: bytes, where: str) -> pd.DataFrame:
    """An export's records as ``feedback.read_outcomes`` returns them; a bad line names ``where``."""
    from mlops.sidecar.feedback import read_outcomes  # the sidecar's reader: one definition of a record

    with tempfile.TemporaryDirectory(prefix="outcomes-") as tmp:  # 0700, its file 0600
        path = Path(tmp) / "export.jsonl"
        path.touch(mode=0o600)
        path.write_bytes(data)
        try:
            return read_outcomes(path)
        except SchemaError as exc:
            raise StoreError(f"{where}: " + "; ".join(exc.problems)) from None
        except UnicodeDecodeError as exc:
            raise StoreError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def empty() -> pd.DataFrame:
    """No outcome at all, with the columns ``read_outcomes`` gives."""
    return parse(b"", "no export")
