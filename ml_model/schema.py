"""The data contract of LegalAid Connect, defined once.

One row is one (client case, lawyer) pair; ``match`` says whether the engagement succeeded.
Training, the Flask service, the simulator and the MLOps sidecar all validate against the
field specs below, so a vocabulary or range changes here and nowhere else.

This module is the contract only: the fields, the limits and the errors that report a breach.
The checks live beside it: ``frame_validation`` for tables (CSV files, DataFrames) and
``request_validation`` for a client's JSON.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

CASE_TYPES = ("family", "criminal", "immigration", "housing", "employment", "consumer", "civil_rights")
LANGUAGES = ("en", "es", "zh", "ar", "fr", "vi")
REGIONS = ("north", "south", "east", "west", "central")
URGENCIES = ("low", "medium", "high")


@dataclass(frozen=True)
class Field:
    """One column: its kind ("category", "int" or "float"), vocabulary or range."""

    name: str
    kind: str
    vocab: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None

    def describe(self) -> str:
        """The field's rule in words, for error messages."""
        if self.kind == "category":
            return "one of " + ", ".join(self.vocab)
        lo = "-inf" if self.min is None else f"{self.min:g}"
        hi = "inf" if self.max is None else f"{self.max:g}"
        noun = "an integer" if self.kind == "int" else "a number"
        return f"{noun} in [{lo}, {hi}]"


# Upper bounds on open-ended numbers keep absurd values (1e308) from reaching the network, where
# they would overflow to NaN; they sit far above anything real.
CASE_FIELDS: tuple[Field, ...] = (
    Field("case_type", "category", CASE_TYPES),
    Field("case_complexity", "int", min=1, max=5),
    Field("urgency", "category", URGENCIES),
    Field("client_language", "category", LANGUAGES),
    Field("client_region", "category", REGIONS),
    Field("client_income", "float", min=0, max=10_000_000),
)
LAWYER_FIELDS: tuple[Field, ...] = (
    Field("lawyer_specialization", "category", CASE_TYPES),
    Field("lawyer_language", "category", LANGUAGES),
    Field("lawyer_region", "category", REGIONS),
    Field("lawyer_experience_years", "float", min=0, max=45),
    Field("lawyer_rating", "float", min=1.0, max=5.0),
    Field("lawyer_active_cases", "int", min=0, max=1000),
    Field("lawyer_hourly_rate", "float", min=0, max=10_000),
)
PAIR_FIELDS: tuple[Field, ...] = (Field("distance_km", "float", min=0, max=20_000),)  # half the equator
FEATURE_FIELDS: tuple[Field, ...] = CASE_FIELDS + LAWYER_FIELDS + PAIR_FIELDS
LABEL_FIELD = Field("match", "int", min=0, max=1)
ALL_FIELDS: tuple[Field, ...] = (*FEATURE_FIELDS, LABEL_FIELD)

FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURE_FIELDS)
CATEGORICAL: tuple[str, ...] = tuple(f.name for f in FEATURE_FIELDS if f.kind == "category")
NUMERIC: tuple[str, ...] = tuple(f.name for f in FEATURE_FIELDS if f.kind != "category")
LABEL = LABEL_FIELD.name
COLUMNS: tuple[str, ...] = (*FEATURES, LABEL)
FIELDS_BY_NAME: dict[str, Field] = {f.name: f for f in ALL_FIELDS}

# Limits on what a client may send in one field. Every known category is far shorter than
# MAX_TEXT_CHARS, so only an unknown one can reach it; lawyer ids are ours or the backend's
# (integers from SQLite, or short strings). Integers stay below 2**53 so every JSON reader
# (JavaScript's included) reads them back exactly.
MAX_TEXT_CHARS = 64
MAX_LAWYER_ID = 2**53
SHORT_REPR_CHARS = 40

# Limits of one request, published in the OpenAPI description (ml_model/openapi.py).
MAX_BODY_BYTES = 1 << 20
MAX_INSTANCES = 10_000
# A bad request lists at most this many problems (and an answer this many warnings), then says
# how many there were in all: enough to fix a form in one pass, never a megabyte of errors.
MAX_ERRORS = 20
SUMMARY_CHARS = 240  # the "error" sentence joins problems up to about this length
MAX_REPORTED_PROBLEMS = 50  # lines of a SchemaError's message (a table's problems)

# Not a rule of the contract: up to this many rows, the request validator and the scorer
# (artifacts.FastScorer) loop over the rows; above it they work column by column.
SMALL_BATCH = 16


class SchemaError(ValueError):
    """A table breaks the contract; ``problems`` lists each one with its place and value."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        shown = problems[:MAX_REPORTED_PROBLEMS]
        more = len(problems) - len(shown)
        text = f"{source} breaks the data contract:\n  " + "\n  ".join(shown)
        if more:
            text += f"\n  ... and {more} more lines like these"
        super().__init__(text)


class Problem(NamedTuple):
    """One thing wrong with a request: where it is (``location``: "body", "case", "instances" or
    "lawyers", and the ``index`` in that list), which ``field``, and a ``message`` naming the field."""

    location: str
    index: int | None
    field: str | None
    message: str

    def sentence(self) -> str:
        """The problem as one sentence with its place, e.g. "instances[2]: missing field 'urgency'"."""
        if self.location == "body":
            return self.message
        where = self.location if self.index is None else f"{self.location}[{self.index}]"
        return f"{where}: {self.message}"

    def as_json(self) -> dict[str, Any]:
        """The problem as the service reports it in a 400's ``errors`` list."""
        return {"location": self.location, "index": self.index, "field": self.field, "message": self.message}


class InvalidRecord(ValueError):
    """Client JSON breaks the contract (a 400). ``problems`` holds the first MAX_ERRORS problems
    and ``total`` counts them all; the message joins the first few (readable, a few hundred
    characters at most) and says how many more there are."""

    def __init__(self, problems: list[Problem], total: int | None = None) -> None:
        if not problems:
            raise ValueError("InvalidRecord needs at least one problem")
        self.problems = problems[:MAX_ERRORS]
        self.total = max(total or 0, len(problems))
        super().__init__(_summary(self.problems, self.total))

    @classmethod
    def from_problems(cls, problems: Iterable[Problem]) -> InvalidRecord:
        """The first MAX_ERRORS of ``problems``, with the rest counted but never formatted (a
        10,000-object batch with every field wrong costs a count, not 140,000 sentences)."""
        found = iter(problems)
        shown = list(itertools.islice(found, MAX_ERRORS))
        return cls(shown, len(shown) + sum(1 for _ in found))

    def as_json(self) -> dict[str, Any]:
        """The 400 body: ``error`` (the sentence), ``errors`` (each problem) and ``error_count``."""
        return {
            "error": str(self),
            "errors": [p.as_json() for p in self.problems],
            "error_count": self.total,
        }


class BadInput(ValueError):
    """A request over a size limit: refused with a 413 and one sentence (a 400 is an InvalidRecord)."""

    def __init__(self, message: str, status: int = 413) -> None:
        super().__init__(message)
        self.status = status


def _summary(problems: list[Problem], total: int) -> str:
    """The first problems as sentences, joined while short, then how many more there are."""
    text = problems[0].sentence()
    shown = 1
    for problem in problems[1:]:
        sentence = problem.sentence()
        if len(text) + 2 + len(sentence) > SUMMARY_CHARS:
            break
        text += "; " + sentence
        shown += 1
    if total > shown:
        text += f" (and {total - shown} more: see 'errors')"
    return text


def short_repr(value: Any, limit: int = SHORT_REPR_CHARS) -> str:
    """A value as an error message may quote it: at most ``limit`` characters then "…".

    Never formats more of the value than it shows (a 1 MB string costs nothing), never fails
    (lone surrogates come out escaped, as ``repr`` writes them), and says how long a long
    string or integer was.
    """
    kind = type(value)
    if kind is str:
        if len(value) <= limit:
            return repr(value)
        return f"{repr(value[:limit])[: limit + 2]}… ({len(value)} characters)"
    if kind is int and abs(value) >= 10**limit:
        return f"a {digit_count(value)}-digit integer"
    if kind in (int, float, bool) or value is None:
        return repr(value)
    if kind is list:
        return f"a list of {len(value)}" if value else "[]"
    if kind is dict:
        return f"an object with {len(value)} keys" if value else "{}"
    return f"a {kind.__name__}"


def digit_count(value: int) -> str:
    """How many digits an integer has, without formatting one past Python's 4,300-digit limit."""
    return str(len(str(abs(value)))) if value.bit_length() < 14_000 else "over 4,000"
