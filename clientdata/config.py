"""Where clients' data lives and how long each store keeps it: one typed object for each.

The stores are resolved exactly as the service and the backend resolve them (same variables,
same defaults), so the command finds what the running app writes. The limits come from
``mlops/params.yaml`` (``retention``), the file the page's privacy statement is checked against.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from logstore.settings import store_uri
from ml_model.paths import DEFAULT_PREDICTION_LOG, PARAMS_FILE, REPO_ROOT

# backend/lib/db.js resolves these the same way: relative settings from backend/, same defaults.
BACKEND_DIR = REPO_ROOT / "backend"
DEFAULT_DB_PATH = BACKEND_DIR / "var" / "lawyers.db"
DEFAULT_EXPORT_DIR = BACKEND_DIR / "var" / "exports"
UNSTORED_FILE_NAME = "unstored_matches.jsonl"  # beside the database unless UNSTORED_MATCHES_PATH
REPORTS_DIR = (
    REPO_ROOT / "mlops" / "reports"
)  # mlops/paths.py's REPORTS_DIR (production must not import mlops)
DVC_DATA_DIR = REPO_ROOT / "mlops" / "data"
WORKSPACE_DIR = REPO_ROOT / "mlops" / "workspace"  # mlops/paths.py's: the daily monitor's Evidently workspace


class ConfigError(ValueError):
    """params.yaml's retention section is missing a limit or holds a bad one."""


@dataclass(frozen=True)
class Retention:
    """Days each store keeps clients' data (params.yaml ``retention``)."""

    labelling_window_days: int
    prediction_log_days: int
    unlabelled_matches_days: int
    labelled_matches_days: int
    outcome_exports_days: int
    monitor_reports_days: int
    data_versions_days: int

    @classmethod
    def from_params(cls, params: Mapping[str, object], source: str = "params.yaml") -> Retention:
        """The section, every limit present and a whole number of days of at least 1."""
        section = params.get("retention")
        if not isinstance(section, Mapping):
            raise ConfigError(f"{source}: no 'retention' section")
        values = {}
        for f in fields(cls):
            value = section.get(f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"{source}: retention.{f.name} must be a whole number of days >= 1, got {value!r}"
                )
            values[f.name] = value
        return cls(**values)

    @classmethod
    def load(cls, path: Path = PARAMS_FILE) -> Retention:
        """Read ``path``'s retention section."""
        return cls.from_params(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, str(path))


@dataclass(frozen=True)
class Stores:
    """The files that hold clients' data on this host."""

    prediction_log: Path
    database: Path
    exports: Path
    unstored: Path  # matches the backend scored but could not store (backend/lib/unstored.js)
    reports: Path
    data: Path
    log_store: str = ""  # the shipper's store (logstore.settings): a folder or s3://bucket/prefix
    workspace: Path = WORKSPACE_DIR  # the daily monitor's snapshots (scores and bins, no rows)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Stores:
        """The app's own settings and defaults (``PREDICTION_LOG``, ``DB_PATH``, ``OUTCOME_EXPORT_DIR``,
        ``UNSTORED_MATCHES_PATH``, ``LOG_STORE``); the backend's relative paths are from backend/, as
        it reads them; the log store is found as ``scripts/ship_logs.py`` finds it."""

        def backend(name: str, default: Path) -> Path:
            return BACKEND_DIR / env[name] if env.get(name) else default

        database = backend("DB_PATH", DEFAULT_DB_PATH)
        log = Path(env.get("PREDICTION_LOG") or DEFAULT_PREDICTION_LOG)
        return cls(
            prediction_log=log,
            database=database,
            exports=backend("OUTCOME_EXPORT_DIR", DEFAULT_EXPORT_DIR),
            unstored=backend("UNSTORED_MATCHES_PATH", database.parent / UNSTORED_FILE_NAME),
            reports=REPORTS_DIR,
            data=DVC_DATA_DIR,
            log_store=store_uri(log, env),
        )


def cutoff(now: datetime, days: int) -> datetime:
    """The oldest moment a store still keeps, ``days`` before ``now``."""
    return now - timedelta(days=days)
