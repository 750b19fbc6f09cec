"""One prediction-log line, checked against what the writer writes (``prediction_log.format_line``).

``parse_line`` turns a line's bytes into a ``Line`` (columns as Python lists, the lawyer ids as the
exact values served) or raises ``BadLine`` naming the field; warnings built from it name the kind
of a bad value, never the value (features are a client's data). ``repeated_lawyers`` and
``select_instances`` handle one /rank listing a lawyer twice. The reader (``prediction_log_reader``)
streams a window of files through these.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from ml_model.schema import FEATURE_FIELDS, FEATURES, MAX_LAWYER_ID, MAX_TEXT_CHARS, Field, short_repr

MAX_LINE_BYTES = 32 * 1024 * 1024  # a 10,000-instance /rank line is a few MiB; longer is damage
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def lawyer_key(value: Any) -> str:
    """The text a lawyer id is joined by: a string as it is, an integer in digits (never "10.0").
    The backend compares ids the same way (JavaScript's ``String(id)``)."""
    return value if type(value) is str else str(value)


class BadLine(Exception):
    """A line that breaks the writer's format: the field (None for the line itself) and why."""

    def __init__(self, field_name: str | None, problem: str) -> None:
        super().__init__(problem)
        self.field = field_name
        self.problem = problem
        self.prediction_id: str | None = None  # the line's, when it is readable


def _kind(value: Any) -> str:
    """A value's kind in words, never its content (features are a client's data)."""
    kinds = {bool: "a true/false value", type(None): "null", str: "text", list: "a list", dict: "an object"}
    return kinds.get(type(value), "a number" if type(value) in (int, float) else type(value).__name__)


def _shown(value: Any) -> str:
    """A value of a field that is not client data (ids, times), as JSON names it."""
    if value is None or type(value) is bool:
        return orjson.dumps(value).decode()
    return short_repr(value)


def _list(rec: dict[str, Any], name: str, n: int | None, where: str | None = None) -> list[Any]:
    value = rec.get(name)
    label = where or name
    if type(value) is not list:
        raise BadLine(label, f"must be a list, got {_kind(value)}")
    if n is not None and len(value) != n:
        raise BadLine(label, f"holds {len(value)} values for {n} instances")
    return value


def _text(rec: dict[str, Any], name: str, limit: int = MAX_TEXT_CHARS) -> str | None:
    """An optional text field (lines written before prediction ids existed have none)."""
    value = rec.get(name)
    if value is None:
        return None
    if type(value) is not str or not value or len(value) > limit:
        raise BadLine(name, f"must be text of 1 to {limit} characters, got {_shown(value)}")
    return value


def _time(rec: dict[str, Any]) -> int:
    """The line's time in microseconds since 1970 (a time without a zone is UTC)."""
    value = rec.get("time")
    if type(value) is not str or len(value) > 64:
        raise BadLine("time", f"must be an ISO 8601 time, got {_shown(value)}")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise BadLine("time", f"must be an ISO 8601 time, got {_shown(value)}") from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return (when - _EPOCH) // _MICROSECOND


_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH
_NUMBER = {int, float}


def _numbers(f: Field, values: list[Any]) -> list[Any]:
    """A numeric feature's values, checked as the service checked them before scoring."""
    types = set(map(type, values))
    if not types <= _NUMBER:
        odd = next(v for v in values if type(v) not in _NUMBER)
        raise BadLine(f.name, f"must be {f.describe()}, got {_kind(odd)}")
    if (f.min is not None and min(values) < f.min) or (f.max is not None and max(values) > f.max):
        raise BadLine(f.name, f"must be {f.describe()}, got a value outside it")
    if f.kind == "int" and float in types:
        if not all(float(v).is_integer() for v in values):
            raise BadLine(f.name, f"must be {f.describe()}, got a fraction")
        return [int(v) for v in values]
    return values


def _categories(f: Field, values: list[Any]) -> None:
    """A category feature's values: text (an unknown category is scored and logged, so kept)."""
    try:
        distinct = set(values)
    except TypeError:  # a list or an object among them
        distinct = set()
    if not distinct or set(map(type, distinct)) != {str}:
        odd = next(v for v in values if type(v) is not str)
        raise BadLine(f.name, f"must be text, got {_kind(odd)}")
    if max(map(len, distinct)) > MAX_TEXT_CHARS:
        raise BadLine(f.name, f"must be at most {MAX_TEXT_CHARS} characters")


def _bad_lawyer_id(value: Any) -> BadLine:
    return BadLine(
        "lawyer_id",
        f"must be text of 1 to {MAX_TEXT_CHARS} characters or an integer in [0, 2**53), got {_shown(value)}",
    )


def _lawyer_ids(rec: dict[str, Any], n: int) -> tuple[list[Any] | None, bool]:
    """/rank's lawyer ids as served (strings or integers), or None for a /predict line; and
    whether one lawyer is listed twice (as ``lawyer_key`` compares them)."""
    if rec.get("lawyer_id") is None:
        return None, False
    ids = _list(rec, "lawyer_id", n)
    types = set(map(type, ids))
    if types == {int}:
        if min(ids) < 0 or max(ids) >= MAX_LAWYER_ID:
            raise _bad_lawyer_id(min(ids) if min(ids) < 0 else max(ids))
        return ids, len(set(ids)) < n
    if types == {str}:
        if min(map(len, ids)) < 1 or max(map(len, ids)) > MAX_TEXT_CHARS:
            raise _bad_lawyer_id(next(v for v in ids if not 0 < len(v) <= MAX_TEXT_CHARS))
        return ids, len(set(ids)) < n
    for value in ids:  # a mix of text and integers, or something else
        kind = type(value)
        if not (kind is int and 0 <= value < MAX_LAWYER_ID) and not (
            kind is str and 0 < len(value) <= MAX_TEXT_CHARS
        ):
            raise _bad_lawyer_id(value)
    return ids, len(set(map(lawyer_key, ids))) < n


@dataclass
class Line:
    """One checked line, ready to append: its columns, its instances and its identity."""

    n: int
    features: dict[str, list[Any]]
    probs: list[float]
    model_version: str | None
    time: int
    prediction_id: str | None
    lawyer_ids: list[Any] | None
    digest: bytes
    repeated: bool = False  # a lawyer listed twice


def parse_line(text: bytes) -> Line:
    """Check one line against the writer's format; BadLine names the first field that breaks it."""
    try:
        rec = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadLine(None, f"not JSON ({str(exc).split(':', 1)[0][:60]})") from None
    if type(rec) is not dict:
        raise BadLine(None, f"not a JSON object but {_kind(rec)}")
    try:
        return _check(rec)
    except BadLine as problem:
        pid = rec.get("prediction_id")
        problem.prediction_id = pid if type(pid) is str and len(pid) <= MAX_TEXT_CHARS else None
        raise


def _check(rec: dict[str, Any]) -> Line:
    """The checks of one parsed line, field by field, in the order the writer writes them."""
    probs = _list(rec, "match_probability", None)
    n = len(probs)
    if not n:
        raise BadLine("match_probability", "holds no instances")
    if not set(map(type, probs)) <= {int, float, type(None)}:  # NaN is written as null
        raise BadLine("match_probability", "must be numbers")
    if None in probs:
        probs = [np.nan if p is None else p for p in probs]
    feats = rec.get("features")
    if type(feats) is not dict:
        raise BadLine("features", f"must be an object, got {_kind(feats)}")
    columns: dict[str, list[Any]] = {}
    for f in FEATURE_FIELDS:
        if f.name not in feats:
            raise BadLine(f.name, "missing")
        values = _list(feats, f.name, n)
        if f.kind == "category":
            _categories(f, values)
            columns[f.name] = values
        else:
            columns[f.name] = _numbers(f, values)
    ids, repeated = _lawyer_ids(rec, n)
    line = Line(
        n=n,
        features=columns,
        probs=probs,
        model_version=_text(rec, "model_version", limit=256),
        time=_time(rec),
        prediction_id=_text(rec, "prediction_id"),
        lawyer_ids=ids,
        digest=b"",
        repeated=repeated,
    )
    if line.prediction_id is not None:  # what the copies of one request must agree on
        body = orjson.dumps([columns, ids], option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
        line.digest = hashlib.blake2b(body, digest_size=16).digest()
    return line


def repeated_lawyers(line: Line) -> tuple[list[int], int, list[str]]:
    """A lawyer listed twice in one request: identical instances are one pair (the first is
    kept); instances that differ cannot both be the pair an outcome names, so all are dropped.
    Returns the instances to keep, how many were dropped as duplicates, and the conflicting
    lawyers' keys (each dropped with every instance of it)."""
    ids = line.lawyer_ids or []
    where: dict[str, list[int]] = {}
    for i, value in enumerate(ids):
        where.setdefault(lawyer_key(value), []).append(i)
    keep, duplicates, conflicts = [], 0, []
    for key, positions in where.items():
        rows = {tuple(line.features[name][i] for name in FEATURES) for i in positions}
        if len(rows) == 1:
            keep.append(positions[0])
            duplicates += len(positions) - 1
        else:
            conflicts.append(key)
    return sorted(keep), duplicates, conflicts


def select_instances(line: Line, keep: list[int]) -> Line:
    """The line with only the instances in ``keep``."""
    ids = line.lawyer_ids
    return Line(
        n=len(keep),
        features={k: [v[i] for i in keep] for k, v in line.features.items()},
        probs=[line.probs[i] for i in keep],
        model_version=line.model_version,
        time=line.time,
        prediction_id=line.prediction_id,
        lawyer_ids=None if ids is None else [ids[i] for i in keep],
        digest=line.digest,
    )
