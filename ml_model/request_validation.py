"""A client's JSON against the contract (``ml_model/schema.py``): one object, a batch, lawyer ids.

Two paths with one naming scheme, held to the same decision and values on every input by the
property tests (tests/ml_model/test_request_validation.py):

- ``*_if_valid``, the fast path: the clean values, or None. It builds no message, so a good
  request (nearly every request) pays for type tests and comparisons only;
- ``*_problem(s)``, the slow path, run once the fast one refused: why, with each place;
- ``validate_*``: the fast path, then on refusal an InvalidRecord built from the slow one.

An unknown category is accepted (the encoder ignores it, the service warns) if it is text of at
most MAX_TEXT_CHARS characters without lone surrogates.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator
from typing import Any

import numpy as np

from ml_model.schema import (
    MAX_LAWYER_ID,
    MAX_TEXT_CHARS,
    SMALL_BATCH,
    Field,
    InvalidRecord,
    Problem,
    digit_count,
    short_repr,
)

_MAX_FLOAT = 1.7976931348623157e308
_CATEGORY, _INT, _FLOAT = 0, 1, 2
_KINDS = {"category": _CATEGORY, "int": _INT, "float": _FLOAT}
_FieldSpecs = list[tuple[str, int, frozenset[str], float, float]]
_FIELD_SPECS_CACHE: dict[int, tuple[tuple[Field, ...], _FieldSpecs]] = {}
_NUMBER_TYPES = frozenset({int, float})
_DTYPES = {"category": object, "int": np.int64, "float": np.float64}
_LAWYER_ID = operator.itemgetter("lawyer_id")


def has_lone_surrogate(text: str) -> bool:
    """True when ``text`` holds a lone surrogate (U+D800-U+DFFF), which no UTF-8 writer accepts.
    Only the standard JSON parser produces them (from escapes like ``"\\udc80"``); orjson refuses
    them. ``isascii`` then ``encode`` is cheaper than a regex."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _text_problem(value: str) -> str | None:
    """Why a string is refused in a category field (too long, or not valid Unicode), or None."""
    if len(value) > MAX_TEXT_CHARS:
        return f"must be at most {MAX_TEXT_CHARS} characters, got {short_repr(value)}"
    if has_lone_surrogate(value):
        return f"must be valid Unicode text, got a lone surrogate in {short_repr(value)}"
    return None


def _bounds(field: Field) -> tuple[float, float]:
    """The field's inclusive range; a missing bound is the largest float, so inf and NaN still fail."""
    return (-_MAX_FLOAT if field.min is None else field.min, _MAX_FLOAT if field.max is None else field.max)


def _field_specs(fields: tuple[Field, ...]) -> _FieldSpecs:
    """Each field as (name, kind code, vocabulary, low, high), computed once per tuple (looked up
    by identity: hashing 14 dataclasses costs more than the checks themselves)."""
    cached = _FIELD_SPECS_CACHE.get(id(fields))
    if cached is not None and cached[0] is fields:
        return cached[1]
    spec = [(f.name, _KINDS[f.kind], frozenset(f.vocab), *_bounds(f)) for f in fields]
    _FIELD_SPECS_CACHE[id(fields)] = (fields, spec)  # the tuple is kept alive, so its id is never reused
    return spec


# The slow path: every problem, as a sentence with its place.


def field_problem(field: Field, value: Any) -> str | None:
    """Why ``value`` is refused in ``field`` (a sentence naming the field), or None when it is accepted."""
    name = field.name
    t = type(value)
    if field.kind == "category":
        if t is not str:
            return f"field '{name}' must be a string, got {short_repr(value)}"
        problem = None if value in field.vocab else _text_problem(value)
        return None if problem is None else f"field '{name}' {problem}"
    if t is not int and t is not float:  # bool, str, None, list, dict
        return f"field '{name}' must be a number, got {short_repr(value)}"
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return f"field '{name}' must be {field.describe()}, got a {digit_count(value)}-digit number"
    if not finite:
        return f"field '{name}' must be finite, got {value!r}"
    if field.kind == "int" and value != int(value):
        return f"field '{name}' must be an integer, got {short_repr(value)}"
    low, high = _bounds(field)
    if not low <= value <= high:
        return f"field '{name}' must be {field.describe()}, got {short_repr(value)}"
    return None


def record_problems(
    record: Any, fields: tuple[Field, ...], location: str, index: int | None = None
) -> Iterator[Problem]:
    """Every problem of one JSON object, field by field in the contract's order (lazily: a caller
    that has enough stops asking)."""
    if not isinstance(record, dict):
        yield Problem(location, index, None, f"expected a JSON object, got {type(record).__name__}")
        return
    for f in fields:
        if f.name not in record:
            yield Problem(location, index, f.name, f"missing field '{f.name}'")
            continue
        message = field_problem(f, record[f.name])
        if message is not None:
            yield Problem(location, index, f.name, message)


def batch_problems(items: list[Any], fields: tuple[Field, ...], location: str) -> Iterator[Problem]:
    """Every problem of a list of JSON objects, in index order."""
    for i, item in enumerate(items):
        yield from record_problems(item, fields, location, i)


def lawyer_id_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a lawyer id, or None: an id is a string of 1 to MAX_TEXT_CHARS
    characters (valid Unicode) or an integer in [0, 2**53), so it survives JSON everywhere.
    ``7.0`` is the integer 7 (as JSON Schema and JavaScript read it); ``lawyer_list_if_valid``
    makes it one."""
    if type(value) is float and value.is_integer() and 0 <= value < MAX_LAWYER_ID:
        return None
    if type(value) is int:
        if 0 <= value < MAX_LAWYER_ID:
            return None
        return f"must be an integer in [0, 2**53), got {short_repr(value)}"
    if type(value) is str:
        return "must not be an empty string" if not value else _text_problem(value)
    kinds = f"a string of 1 to {MAX_TEXT_CHARS} characters or an integer in [0, 2**53)"
    return f"must be {kinds}, got {short_repr(value)}"


def lawyer_list_problems(items: list[Any], fields: tuple[Field, ...], location: str) -> Iterator[Problem]:
    """Every problem of a list of lawyer objects: the ``lawyer_id``, then ``fields``, lawyer by lawyer."""
    for i, item in enumerate(items):
        if isinstance(item, dict):
            if "lawyer_id" not in item:
                yield Problem(location, i, "lawyer_id", "missing field 'lawyer_id'")
            elif (problem := lawyer_id_problem(item["lawyer_id"])) is not None:
                yield Problem(location, i, "lawyer_id", f"field 'lawyer_id' {problem}")
        yield from record_problems(item, fields, location, i)


# The fast path: the clean values, or None.


def _row_if_valid(record: Any, spec: _FieldSpecs) -> list[Any] | None:
    """The clean values of one JSON object in field order, or None when any field is refused: on
    the good path one type test and one chained comparison per field."""
    if not isinstance(record, dict):
        return None
    clean: list[Any] = []
    append = clean.append
    for name, kind, vocab, low, high in spec:
        try:
            value = record[name]
        except KeyError:
            return None
        t = type(value)
        if kind == _CATEGORY:
            if t is str and (value in vocab or _text_problem(value) is None):
                append(value)
                continue
        elif (t is float or t is int) and low <= value <= high:  # NaN, inf and huge ints fail here
            if kind == _FLOAT:
                append(value if t is float else float(value))
                continue
            if t is int:
                append(value)
                continue
            if value == int(value):
                append(int(value))
                continue
        return None
    return clean


def record_if_valid(record: Any, fields: tuple[Field, ...]) -> dict[str, Any] | None:
    """One JSON object's clean values by field name, or None when anything is refused."""
    values = _row_if_valid(record, _field_specs(fields))
    return None if values is None else dict(zip([f.name for f in fields], values, strict=True))


def batch_if_valid(items: list[Any], fields: tuple[Field, ...]) -> dict[str, np.ndarray] | None:
    """The columns of a batch of JSON objects when every value passes, else None. Up to
    SMALL_BATCH objects, one ``_row_if_valid`` each; larger batches column by column in C-level
    calls (itemgetter, zip, set, NumPy), many times faster than a loop."""
    if len(items) > SMALL_BATCH:
        return _columns_if_valid(items, fields)
    spec = _field_specs(fields)
    rows = []
    for item in items:
        values = _row_if_valid(item, spec)
        if values is None:
            return None
        rows.append(values)
    return {
        f.name: np.array(col, dtype=_DTYPES[f.kind])
        for f, col in zip(fields, zip(*rows, strict=False), strict=True)
    }


def _columns_if_valid(items: list[Any], fields: tuple[Field, ...]) -> dict[str, np.ndarray] | None:
    """The columns of a large batch when every value passes, else None."""
    names = [f.name for f in fields]
    try:
        rows = list(map(operator.itemgetter(*names), items))
    except (KeyError, TypeError, AttributeError, IndexError):
        return None
    if set(map(type, items)) != {dict}:
        return None
    columns: list[tuple] = [tuple(rows)] if len(names) == 1 else list(zip(*rows, strict=True))
    cols: dict[str, np.ndarray] = {}
    for (name, kind, vocab, low, high), col in zip(_field_specs(fields), columns, strict=False):
        if kind == _CATEGORY:
            arr = _category_column_if_valid(col, vocab)
        else:
            arr = _number_column_if_valid(col, kind, low, high)
        if arr is None:
            return None
        cols[name] = arr
    return cols


def _category_column_if_valid(col: tuple, vocab: frozenset) -> np.ndarray | None:
    """A category column as a set: values in the vocabulary need no test, and only the few
    unknown ones are checked for type, length and lone surrogates."""
    try:
        unknown = set(col) - vocab
    except TypeError:  # a list or an object: not hashable, not text
        return None
    if any(type(v) is not str or _text_problem(v) is not None for v in unknown):
        return None
    return np.array(col, dtype=object)


def _number_column_if_valid(col: tuple, kind: int, low: float, high: float) -> np.ndarray | None:
    """A numeric column in range (NaN and inf are out of range too), as int64 or float64."""
    if not set(map(type, col)) <= _NUMBER_TYPES:
        return None
    try:
        arr = np.array(col, dtype=np.float64)
    except OverflowError:
        return None
    bad = ~((arr >= low) & (arr <= high))
    if kind == _INT:
        bad |= arr != np.round(arr)
    if bad.any():
        return None
    return arr.astype(np.int64) if kind == _INT else arr


def lawyer_list_if_valid(items: list[dict[str, Any]]) -> list[Any] | None:
    """The ``lawyer_id`` of each object (already known to be objects) when all are good, checked
    as a batch in C-level calls; else None."""
    try:
        ids = list(map(_LAWYER_ID, items))
    except KeyError:
        return None
    types = set(map(type, ids))
    if types == {int}:
        if min(ids) >= 0 and max(ids) < MAX_LAWYER_ID:
            return ids
    elif types == {str}:
        lengths = set(map(len, ids))
        if min(lengths) >= 1 and max(lengths) <= MAX_TEXT_CHARS and not has_lone_surrogate("".join(ids)):
            return ids
    elif all(lawyer_id_problem(value) is None for value in ids):  # mixed, or integral floats
        return [int(value) if type(value) is float else value for value in ids]
    return None


# Both: the fast path's values, or the slow path's problems as an InvalidRecord.


def validate_record(record: Any, fields: tuple[Field, ...], where: str) -> dict[str, Any]:
    """One JSON object's clean values by field name; InvalidRecord names every bad field."""
    values = record_if_valid(record, fields)
    if values is None:
        raise InvalidRecord.from_problems(record_problems(record, fields, where))
    return values


def validate_batch(items: list[Any], fields: tuple[Field, ...], where: str) -> dict[str, np.ndarray]:
    """The columns of a batch of JSON objects; InvalidRecord lists the problems (each with its
    index and field, MAX_ERRORS at most, and the count of all of them)."""
    cols = batch_if_valid(items, fields)
    if cols is None:
        raise InvalidRecord.from_problems(batch_problems(items, fields, where))
    return cols
