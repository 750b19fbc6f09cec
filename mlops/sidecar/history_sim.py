"""A simulated production history: what the service would have logged day by day, and the outcomes
caseworkers would have recorded weeks later.

Why: the daily monitor, its estimate and its rule must be checked against a known truth, over
weeks, through the real commands (``ship_logs.py``, ``monitor_model.py --daily``,
``collect_feedback.py``). Each served day becomes one rotated prediction-log file, written with the
service's own line format (``ml_model.prediction_log.format_line``) and scored by the production
model (read only); day ``drift_from`` onwards draws from a drift profile of the simulator. A share
of the served pairs gets an outcome (``engaged`` when the simulated match happened, else
``declined``), recorded in the working hours of the day ``label_delay_days`` later, in one export
file per arrival day in the backend's export format.

Simplification: a logged request holds ``lawyers`` independent simulated pairs (its cases differ),
where the service logs one case beside its lawyers; the monitor draws one pair per request either way.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ml_model.artifacts import read_manifest
from ml_model.common import atomic_write
from ml_model.paths import ML_MODEL_DIR
from ml_model.prediction_log import LogEntry, format_line
from ml_model.prediction_log_reader import log_files, rotated_path
from ml_model.schema import FEATURES
from mlops.sidecar.simulator import DRIFT_PROFILES, simulate


@dataclass(frozen=True)
class HistoryPlan:
    """What to simulate: the days, the drift and when it starts, the traffic and the outcomes."""

    days: int
    end: date  # the last served day
    drift: str
    drift_from: int  # 1-based: the first drifted day
    pairs_per_day: int
    lawyers: int  # pairs per logged request
    label_share: float  # share of served pairs that get an outcome
    label_delay_days: int
    seed: int

    def check(self) -> None:
        """Refuse a plan that cannot be simulated, naming the setting."""
        if self.drift not in DRIFT_PROFILES:
            raise ValueError(
                f"--drift: unknown profile {self.drift!r}; choose one of {', '.join(DRIFT_PROFILES)}"
            )
        if self.days < 1 or self.pairs_per_day < self.lawyers or self.lawyers < 1:
            raise ValueError("--days must be >= 1 and --pairs-per-day at least --lawyers (>= 1)")
        if not 0.0 <= self.label_share <= 1.0 or self.label_delay_days < 0:
            raise ValueError("--label-share must be in [0, 1] and --label-delay-days >= 0")

    def served(self, i: int) -> date:
        """The i-th served day (1-based)."""
        return self.end - timedelta(days=self.days - i)


def _day_lines(plan: HistoryPlan, i: int, version: str, model: object) -> tuple[bytes, list[dict]]:
    """One day's log text and its outcome records (each with its arrival time)."""
    from mlops.sidecar.scoring import score

    drift = plan.drift if i >= plan.drift_from else "none"
    df = simulate(plan.pairs_per_day, plan.seed * 1000 + i, drift)
    probs = score(model, df).to_numpy()
    rng = np.random.default_rng([plan.seed, i])
    start = datetime.combine(plan.served(i), datetime.min.time(), UTC).timestamp()
    n_req = plan.pairs_per_day // plan.lawyers
    times = np.sort(rng.uniform(start, start + 86400 - 1, n_req))
    lawyer_ids = i * 10_000_000 + rng.permutation(n_req * plan.lawyers)  # never twice in a request
    labelled = rng.random(n_req * plan.lawyers) < plan.label_share
    lines, outcomes = [], []
    for r in range(n_req):
        sl = slice(r * plan.lawyers, (r + 1) * plan.lawyers)
        pid = str(_uuid(rng))
        part = df.iloc[sl]
        cols = {c: (part[c].to_numpy() if part[c].dtype.kind in "if" else part[c].tolist()) for c in FEATURES}
        ids = lawyer_ids[sl].tolist()
        lines.append(format_line(LogEntry(version, float(times[r]), cols, probs[sl].tolist(), pid, ids)))
        served = datetime.fromtimestamp(times[r], UTC)
        for j in np.flatnonzero(labelled[sl]):
            match = int(part["match"].iloc[j])
            # recorded in the working hours (09:00-17:00 UTC) of the day label_delay_days later
            hours = 9 + float(rng.uniform(0, 8))
            recorded = datetime.combine(served.date(), datetime.min.time(), UTC) + timedelta(
                days=plan.label_delay_days, hours=hours
            )
            outcomes.append(
                {
                    "match_id": pid,
                    "lawyer_id": ids[j],
                    "outcome": "engaged" if match else "declined",
                    "label": match,
                    "occurred_at": served.isoformat(timespec="seconds"),
                    "recorded_at": recorded.isoformat(timespec="seconds"),
                    "model_version": version,
                }
            )
    return b"".join(lines), outcomes


def _uuid(rng: np.random.Generator) -> str:
    import uuid

    return uuid.UUID(bytes=rng.bytes(16), version=4).hex  # as the service writes it


def _write_private(path: Path, data: bytes) -> None:
    """Client data (simulated, but written as the real thing is): 0600 in 0700, appearing whole."""
    atomic_write(path, lambda p: p.write_bytes(data), private=True)


def simulate_history(plan: HistoryPlan, log_path: Path, outcomes_dir: Path, progress: object = None) -> dict:
    """Write the rotated log files (``log.N`` oldest .. ``log.1`` newest) and the outcome exports.

    Refuses a log that already has files: a simulated history never mixes with a real one."""
    from mlops.sidecar.scoring import load_production

    plan.check()
    if any(p.exists() for p in log_files(log_path)):
        raise ValueError(f"{log_path}: a prediction log is already there; simulate into an empty folder")
    log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    outcomes_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    model = load_production()
    version = str(read_manifest(ML_MODEL_DIR)["model_version"])
    by_arrival: dict[date, list[dict]] = defaultdict(list)
    for i in range(1, plan.days + 1):
        text, outcomes = _day_lines(plan, i, version, model)
        _write_private(rotated_path(log_path, plan.days - i + 1), text)
        for o in outcomes:
            by_arrival[datetime.fromisoformat(o["recorded_at"]).date()].append(o)
        if progress:
            progress(i, plan.days)
    for day, records in sorted(by_arrival.items()):
        body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        _write_private(outcomes_dir / f"outcomes-{day}.jsonl", body.encode())
    _write_private(log_path, b"")
    return {
        "days": plan.days,
        "outcome_files": len(by_arrival),
        "pairs": plan.days * (plan.pairs_per_day // plan.lawyers) * plan.lawyers,
    }


def truth_frame(plan: HistoryPlan, i: int) -> pd.DataFrame:
    """Day i's simulated pairs with their labels (tests compare the monitor with them)."""
    drift = plan.drift if i >= plan.drift_from else "none"
    return simulate(plan.pairs_per_day, plan.seed * 1000 + i, drift)
