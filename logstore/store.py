"""The log store, read and maintained: its days, its hosts, its outcome exports, expiry and erasure.

Parts are only ever added whole or replaced whole under the same name (a re-ship after a crash
rewrites the same names, an erasure rewrites a part without the erased rows), so a reader sees
every part either before or after a change. ``read_day`` lists and reads one day's folder only,
and counts a row shipped twice once, by ``(prediction_id, position)``.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from logstore import outcomes as exports
from logstore.backend import Backend, StoreError
from logstore.rows import COLUMNS, KEY, keys, to_parquet, without

log = logging.getLogger(__name__)

PART = re.compile(r"predictions/day=(\d{4}-\d{2}-\d{2})/host=([^/]+)/([^/]+)\.parquet")


@dataclass(frozen=True)
class HostState:
    """One shipper's last successful run (``hosts/<host>.json``)."""

    host: str
    last_run: datetime
    complete_through: datetime | None  # every line this host served before it is in the store
    files_shipped: int  # by that run
    rows_shipped: int

    def as_json(self) -> dict[str, Any]:
        """The record as stored: times in ISO 8601, UTC."""
        ct = self.complete_through
        return {
            "host": self.host,
            "last_run": self.last_run.astimezone(UTC).isoformat(),
            "complete_through": None if ct is None else ct.astimezone(UTC).isoformat(),
            "files_shipped": self.files_shipped,
            "rows_shipped": self.rows_shipped,
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> HostState:
        """A stored record, checked field by field."""
        try:
            ct = data["complete_through"]
            state = cls(
                host=str(data["host"]),
                last_run=_utc(data["last_run"]),
                complete_through=None if ct is None else _utc(ct),
                files_shipped=int(data["files_shipped"]),
                rows_shipped=int(data["rows_shipped"]),
            )
        except (TypeError, KeyError, ValueError) as exc:
            raise StoreError(f"{where}: not a host record ({type(exc).__name__}: {exc})") from None
        return state


def _utc(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def part_name(day: date, host: str, source_id: str) -> str:
    """Where a shipped file's rows of ``day`` go."""
    return f"predictions/day={day.isoformat()}/host={host}/{source_id}.parquet"


class LogStore:
    """Every host's shipped prediction-log rows, by UTC day, and the outcome exports put in."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @classmethod
    def open(cls, uri: str | Path) -> LogStore:
        """A folder path or ``s3://bucket/prefix`` (nothing is created until something is written)."""
        return cls(Backend.open(uri))

    def __str__(self) -> str:
        return self.backend.uri

    def __repr__(self) -> str:
        return f"LogStore({self.backend.uri!r})"

    # -- predictions ------------------------------------------------------------------------------

    def _parts(self, prefix: str) -> list[tuple[date, str, str]]:
        out = []
        for entry in self.backend.files(prefix):
            m = PART.fullmatch(entry.rel)
            if not m:
                continue
            try:
                out.append((date.fromisoformat(m.group(1)), m.group(2), entry.rel))
            except ValueError:
                log.warning("%s: not a day; ignored.", self.backend.name(entry.rel))
        return out

    def days(self) -> list[date]:
        """Days with at least one part, sorted."""
        return sorted({day for day, _, _ in self._parts("predictions")})

    def parts(self, day: date, host: str | None = None) -> list[str]:
        """The parts of ``day`` (of one host), as store paths."""
        prefix = f"predictions/day={day.isoformat()}" + (f"/host={host}" if host else "")
        return [rel for _, _, rel in self._parts(prefix)]

    def read_day(self, day: date, columns: list[str] | None = None) -> pd.DataFrame:
        """Every host's rows of ``day``, a row shipped twice counted once, sorted by time."""
        wanted = list(COLUMNS) if columns is None else list(columns)
        unknown = sorted(set(wanted) - set(COLUMNS))
        if unknown:
            raise StoreError(f"no column {', '.join(unknown)} in the store (it has {', '.join(COLUMNS)})")
        read = list(dict.fromkeys([*wanted, *KEY, "time"]))
        tables = [self.backend.read_table(rel, read) for rel in self.parts(day)]
        if not tables:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in wanted})
        frame = pa.concat_tables(tables, promote_options="permissive").to_pandas()
        copies = frame.duplicated(list(KEY)).to_numpy() & frame["prediction_id"].notna().to_numpy()
        if copies.any():
            frame = frame[~copies]
        frame = frame.sort_values("time", kind="stable", ignore_index=True)
        return frame[wanted]

    def write_part(self, day: date, host: str, source_id: str, table: pa.Table) -> str | None:
        """Put one shipped file's rows of ``day``, less the rows this host's other parts of that day
        already hold (a file rewritten by privacy.py and shipped again); None when none is new."""
        name = part_name(day, host, source_id)
        others = [rel for rel in self.parts(day, host) if rel != name]
        if others:
            known = pa.concat_tables([self.backend.read_table(rel, list(KEY)) for rel in others])
            table = without(table, keys(known))
        if not table.num_rows:
            return None
        self.backend.put(name, to_parquet(table))
        return name

    # -- hosts ------------------------------------------------------------------------------------

    def hosts(self) -> dict[str, HostState]:
        """Each shipper's last successful run, by host."""
        out = {}
        for entry in self.backend.files("hosts"):
            if entry.rel.endswith(".json"):
                where = self.backend.name(entry.rel)
                try:
                    data = json.loads(self.backend.read_bytes(entry.rel))
                except (ValueError, UnicodeDecodeError) as exc:
                    raise StoreError(f"{where}: not JSON ({exc})") from None
                state = HostState.from_json(data, where)
                out[state.host] = state
        return out

    def put_host(self, state: HostState) -> None:
        """Record a shipper's run (atomic)."""
        self.backend.put(f"hosts/{state.host}.json", (json.dumps(state.as_json(), indent=2) + "\n").encode())

    def complete_through(self) -> datetime | None:
        """The earliest of the hosts' ``complete_through``: days ending before it are complete.
        None when no host has shipped (or one cannot yet say)."""
        states = list(self.hosts().values())
        if not states or any(s.complete_through is None for s in states):
            return None
        return min(s.complete_through for s in states if s.complete_through is not None)

    # -- outcomes ---------------------------------------------------------------------------------

    def _exports(self) -> list[str]:
        return [e.rel for e in self.backend.files("outcomes") if e.rel.endswith(".jsonl")]

    def put_outcomes(self, path: Path) -> str:
        """Copy an outcome export in (checked first; atomic); its store name. The same export put
        again is the same object."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise StoreError(f"{path}: cannot read the outcome export ({exc.strerror})") from None
        exports.parse(data, str(path))
        name = exports.store_name(path, data)
        digest = exports.digest_of(name)
        for rel in self._exports():
            if exports.digest_of(rel.removeprefix(exports.PREFIX)) == digest:
                return rel.removeprefix(exports.PREFIX)
        self.backend.put(exports.PREFIX + name, data)
        return name

    def outcomes(self, latest: bool = True) -> pd.DataFrame:
        """Every export's records in export order, as ``read_outcomes`` gives them; of two records
        of one (match_id, lawyer_id) the later wins (``latest=False``: all of them, for a caller that
        first asks which were recorded by a given time)."""
        frames = [
            exports.parse(self.backend.read_bytes(rel), self.backend.name(rel)) for rel in self._exports()
        ]
        frames = [f for f in frames if len(f)]
        if not frames:
            return exports.empty()
        out = pd.concat(frames, ignore_index=True)
        return (
            out.drop_duplicates(["match_id", "lawyer_id"], keep="last", ignore_index=True) if latest else out
        )

    # -- privacy ----------------------------------------------------------------------------------

    def expire(self, before: date, apply: bool) -> int:
        """Day partitions older than ``before`` (whole days); how many were (or would be) removed."""
        old = [d for d in self.days() if d < before]
        for day in old if apply else []:
            self.backend.delete_tree(f"predictions/day={day.isoformat()}")
            log.info("Deleted the day %s from the log store %s.", day, self)
        return len(old)

    def expire_outcomes(self, before: datetime, apply: bool) -> list[str]:
        """Outcome exports exported before ``before``: their store names, removed when ``apply``."""
        old = []
        for rel in self._exports():
            when = exports.exported_at(rel.removeprefix(exports.PREFIX))
            if when is not None and when < before:
                old.append(rel)
                if apply:
                    self.backend.delete(rel)
        return [rel.removeprefix(exports.PREFIX) for rel in old]

    def erase(self, prediction_ids: set[str], apply: bool) -> int:
        """Rows (and outcome records) naming ``prediction_ids``: each part holding one is rewritten
        without them (deleted when nothing is left); how many rows and records were (or would be)."""
        if not prediction_ids:
            return 0
        wanted = pa.array(sorted(prediction_ids), pa.string())
        total = 0
        for _, _, rel in self._parts("predictions"):
            hit = pc.is_in(self.backend.read_table(rel, ["prediction_id"])["prediction_id"], wanted)
            n = pc.sum(hit).as_py() or 0
            if n and apply:
                table = self.backend.read_table(rel)
                keep = table.filter(pc.invert(pc.fill_null(pc.is_in(table["prediction_id"], wanted), False)))
                if keep.num_rows:
                    self.backend.put(rel, to_parquet(keep))
                else:
                    self.backend.delete(rel)
            total += n
        needles = [i.encode() for i in prediction_ids]
        for rel in self._exports():
            lines = self.backend.read_bytes(rel).splitlines(keepends=True)
            kept = [line for line in lines if not any(n in line for n in needles)]
            if len(kept) < len(lines) and apply:
                if kept:
                    self.backend.put(rel, b"".join(kept))
                else:
                    self.backend.delete(rel)
            total += len(lines) - len(kept)
        if apply:
            self.clean_temporaries()
        return total

    def clean_temporaries(self, host: str | None = None) -> int:
        """Remove what a killed writer left (a folder store: ``.name.tmp`` files, ``.trash-`` folders),
        of one host's parts or everywhere; how many. They may hold rows, so erasure runs this too."""
        found = [
            p
            for p in self.backend.temporaries("")
            if host is None or f"/host={host}/" in str(p) or p.name.startswith(f".{host}.json")
        ]
        for path in found:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return len(found)
