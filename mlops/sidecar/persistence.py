"""The persistent-drift rule: K failing days of the last N start the retraining loop, once per episode.

One day's drift alarm is one run's opinion: a holiday, a campaign or a slow shipper can move a day.
Like mlops-stacks' "2 of the last 5 windows", the rule asks for ``min_failing_days`` failing days
among the last ``window_days`` calendar days. A day fails when a key feature drifts, when the
estimated ROC AUC's whole band lies below the floor (the reference AUC minus
``monitor.max_auc_drop``), or when the realized ROC AUC (once outcomes arrive) is below it.

Windows are judged on every day of the history, with everything known now: outcomes that arrive
weeks late can turn old days into failing ones, and so start an episode late (the ``concept`` case,
which only labels can show). An episode is a run of consecutive days whose window fires; it is
alerted once, at its first day; an alert within a window before an episode's start also covers it,
so later runs, late labels and backfills that move the start do not alert it again. The rule is a
pure function of the history and the alerts already raised, so a scheduler can run it as often as
it likes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any


@dataclass(frozen=True)
class DailyConfig:
    """``params.yaml`` ``daily``: the persistent-drift rule and the data-gap alerts."""

    window_days: int  # N: the last N calendar days ...
    min_failing_days: int  # K: ... of which at least K fail
    stalled_shipper_hours: float  # a host whose shipper has not run for this long is an alert
    min_realized_labels: int  # labelled pairs a day needs for its realized ROC AUC

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DailyConfig:
        """From a parsed params.yaml; K must be between 1 and N."""
        section = params.get("daily")
        if not isinstance(section, Mapping):
            raise ValueError("params.yaml: no 'daily' section (the persistent-drift rule)")
        unknown = set(section) - {
            "window_days",
            "min_failing_days",
            "stalled_shipper_hours",
            "min_realized_labels",
        }
        if unknown:
            raise ValueError(f"params.yaml daily: unknown setting(s) {', '.join(sorted(unknown))}")
        cfg = cls(
            int(section["window_days"]),
            int(section["min_failing_days"]),
            float(section["stalled_shipper_hours"]),
            int(section["min_realized_labels"]),
        )
        if not 1 <= cfg.min_failing_days <= cfg.window_days:
            raise ValueError(
                f"params.yaml daily: need 1 <= min_failing_days <= window_days, got "
                f"{cfg.min_failing_days} of {cfg.window_days}"
            )
        return cfg

    def describe(self) -> str:
        """The rule in words, as every alert states it."""
        return f"{self.min_failing_days} failing days of the last {self.window_days}"


@dataclass(frozen=True)
class Episode:
    """Consecutive days whose window fired: alerted once, at ``first``."""

    first: date
    last: date
    failing_days: tuple[date, ...]  # the failing days in the first firing window
    reasons: tuple[str, ...]  # why each of those days failed, "day: reason"


def episodes(failing: Mapping[date, Sequence[str]], days: Sequence[date], cfg: DailyConfig) -> list[Episode]:
    """Every episode of the history ``days`` (sorted, served days), given why each day fails.

    The window ending at day D holds the calendar days D-N+1..D (a missing day counts as not
    failing; the data-gap alert covers it)."""
    fired: list[tuple[date, list[date]]] = []
    for end in days:
        start = end - timedelta(days=cfg.window_days - 1)
        bad = [d for d in days if start <= d <= end and failing.get(d)]
        if len(bad) >= cfg.min_failing_days:
            fired.append((end, bad))
    position = {d: i for i, d in enumerate(days)}
    out: list[Episode] = []
    for end, bad in fired:
        # one episode while the window fires on consecutive served days (a missing day does not split it)
        if out and position[end] - position[out[-1].last] == 1:
            out[-1] = Episode(out[-1].first, end, out[-1].failing_days, out[-1].reasons)
            continue
        reasons = tuple(f"{d}: {r}" for d in bad for r in failing[d])
        out.append(Episode(end, end, tuple(bad), reasons))
    return out


def new_episodes(
    failing: Mapping[date, Sequence[str]], days: Sequence[date], alerted: set[date], cfg: DailyConfig
) -> list[Episode]:
    """The episodes no alert has been raised for yet: an alert on a day of the episode, or within a
    window before its start (a backfill or late labels can move the start), covers it."""
    reach = timedelta(days=cfg.window_days - 1)
    return [
        e for e in episodes(failing, days, cfg) if not any(e.first - reach <= a <= e.last for a in alerted)
    ]
