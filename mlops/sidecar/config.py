"""The sidecar's settings, typed: ``params.yaml`` is read and checked here, in one place.

Each section becomes a frozen dataclass (like production's ``TrainConfig``), so a misspelt or
missing setting fails when the file is read, naming the section, not deep inside a stage; and
functions take the settings they use, not a dictionary to look keys up in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ml_model.train_model import TrainConfig
from mlops.paths import PARAMS_FILE


def _section(cls: type, params: Mapping[str, Any], name: str, nested: tuple[str, ...] = ()) -> dict[str, Any]:
    """``params[name]``, refusing settings ``cls`` does not have (a typo must not be ignored);
    ``nested`` subsections are another class's to read and check."""
    section = {k: v for k, v in (params.get(name) or {}).items() if k not in nested}
    unknown = set(section) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"params.yaml {name}: unknown setting(s) {', '.join(sorted(unknown))}")
    return section


@dataclass(frozen=True)
class SplitConfig:
    """The ``data`` section: the held-out split every stage scores on, so models meet the same rows."""

    test_size: float
    split_seed: int

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SplitConfig:
        """From a parsed params.yaml; a missing setting is a KeyError naming it."""
        d = params["data"]
        return cls(float(d["test_size"]), int(d["split_seed"]))


@dataclass(frozen=True)
class GateThresholds:
    """The ``gate`` section: what a candidate must reach to be called an improvement."""

    min_roc_auc: float  # absolute floor
    min_delta: float  # ROC AUC above production's
    max_drop: Mapping[str, float] = field(default_factory=dict)  # guard metric -> allowed fall
    min_group_rows: int = 300  # the equity guard judges groups of at least this many rows
    max_group_auc_drop: float = 0.05
    max_ranking_drop: Mapping[str, float] = field(default_factory=dict)  # ranking guard: ndcg10, top3

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> GateThresholds:
        """From a parsed params.yaml; unknown settings are refused, missing ones are KeyErrors."""
        g = _section(cls, params, "gate")
        return cls(
            min_roc_auc=float(g["min_roc_auc"]),
            min_delta=float(g["min_delta"]),
            max_drop={str(k): float(v) for k, v in (g.get("max_drop") or {}).items()},
            min_group_rows=int(g.get("min_group_rows", cls.min_group_rows)),
            max_group_auc_drop=float(g.get("max_group_auc_drop", cls.max_group_auc_drop)),
            max_ranking_drop={str(k): float(v) for k, v in (g.get("max_ranking_drop") or {}).items()},
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON form logged beside the decision."""
        return {
            **asdict(self),
            "max_drop": dict(self.max_drop),
            "max_ranking_drop": dict(self.max_ranking_drop),
        }


@dataclass(frozen=True)
class MonitorConfig:
    """The ``monitor`` section: the drift rule, the sampling, and how many reports are kept."""

    num_method: str  # Evidently's method for number columns
    cat_method: str  # and for category columns
    threshold: float  # a column drifts at this score
    drift_share: float  # dataset drift when this share of columns drift ...
    key_features: tuple[str, ...]  # ... or any of these does ...
    max_auc_drop: float  # ... or labelled ROC AUC falls further than this (and 3 s.e.)
    max_rows: int  # larger current sets are sampled down to this
    min_rows: int  # fewer tested rows give no verdict
    seed: int
    keep_reports: int

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> MonitorConfig:
        """From a parsed params.yaml; unknown settings are refused, missing ones are KeyErrors."""
        m = _section(cls, params, "monitor", nested=("estimate",))
        return cls(
            num_method=str(m["num_method"]),
            cat_method=str(m["cat_method"]),
            threshold=float(m["threshold"]),
            drift_share=float(m["drift_share"]),
            key_features=tuple(str(c) for c in m["key_features"]),
            max_auc_drop=float(m["max_auc_drop"]),
            max_rows=int(m["max_rows"]),
            min_rows=int(m["min_rows"]),
            seed=int(m["seed"]),
            keep_reports=int(m["keep_reports"]),
        )

    def rule(self) -> dict[str, Any]:
        """The settings that make the verdict, as every report states them."""
        return {
            "threshold": self.threshold,
            "drift_share": self.drift_share,
            "key_features": list(self.key_features),
            "max_auc_drop": self.max_auc_drop,
            "min_rows": self.min_rows,
        }


@dataclass(frozen=True)
class EstimateConfig:
    """The ``monitor.estimate`` section: ROC AUC estimated before labels (mlops/sidecar/cbpe.py)."""

    draws: int  # label draws behind the band
    boots: int  # bootstrap refits of the calibrator: its own uncertainty is in the band
    seed: int
    min_rows: int  # rows a day (or a group) needs for an estimate
    min_labels: int  # labelled pairs a day needs before its calibration error counts
    max_ece: float  # a labelled day's calibration error above this marks later estimates unreliable

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> EstimateConfig:
        """From a parsed params.yaml; unknown or out-of-range settings are refused by name."""
        name = "monitor.estimate"
        e = _section(cls, {name: (params.get("monitor") or {}).get("estimate")}, name)
        if not e:
            raise KeyError(f"params.yaml {name}: the section is missing")
        cfg = cls(
            draws=int(e["draws"]),
            boots=int(e["boots"]),
            seed=int(e["seed"]),
            min_rows=int(e["min_rows"]),
            min_labels=int(e["min_labels"]),
            max_ece=float(e["max_ece"]),
        )
        if cfg.draws < 20 or cfg.boots < 0 or cfg.min_rows < 2 or cfg.min_labels < 1:
            raise ValueError(
                f"params.yaml {name}: need draws >= 20, boots >= 0, min_rows >= 2, min_labels >= 1: {cfg}"
            )
        if not 0 < cfg.max_ece < 1:
            raise ValueError(f"params.yaml {name}: max_ece must be between 0 and 1, got {cfg.max_ece}")
        return cfg


@dataclass(frozen=True)
class RankingConfig:
    """The ``ranking`` section: the pools, the cut-offs and the affordability rule."""

    cases: int = 300
    pool: int = 50
    seed: int = 909
    k: int = 10
    top: int = 3
    unaffordable_factor: float = 4.0
    affordable_factor: float = 2.0
    fit_tolerance: float = 0.25

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RankingConfig:
        """From a parsed params.yaml; an unknown or inconsistent setting is an error, not ignored."""
        cfg = cls(**_section(cls, params, "ranking"))
        if cfg.cases < 1 or cfg.pool < 2 or not 1 <= cfg.top <= cfg.pool or cfg.k < 1:
            raise ValueError(
                f"params.yaml ranking: need cases >= 1, pool >= 2, 1 <= top <= pool, k >= 1: {cfg}"
            )
        if not 0 < cfg.affordable_factor < cfg.unaffordable_factor:
            raise ValueError("params.yaml ranking: need 0 < affordable_factor < unaffordable_factor")
        return cfg


@dataclass(frozen=True)
class EquityEvalRecipe:
    """The ``equity_eval`` section: how the fixed evaluation set is simulated again when no remote has it."""

    rows: int
    seed: int

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> EquityEvalRecipe:
        """From a parsed params.yaml; a missing setting is a KeyError naming it."""
        e = params["equity_eval"]
        return cls(int(e["rows"]), int(e["seed"]))


@dataclass(frozen=True)
class Params:
    """Every section of params.yaml the sidecar reads, typed."""

    split: SplitConfig
    train: TrainConfig
    gate: GateThresholds
    income_bands: tuple[float, ...]  # ``groups.income_bands``: the edges of the income groups
    monitor: MonitorConfig
    ranking: RankingConfig
    equity_eval: EquityEvalRecipe
    estimate: EstimateConfig  # ``monitor.estimate``

    @classmethod
    def from_dict(cls, params: Mapping[str, Any]) -> Params:
        """From a parsed params.yaml (tests build one by hand)."""
        return cls(
            split=SplitConfig.from_params(params),
            train=TrainConfig.from_params(params),
            gate=GateThresholds.from_params(params),
            income_bands=tuple(float(c) for c in params["groups"]["income_bands"]),
            monitor=MonitorConfig.from_params(params),
            ranking=RankingConfig.from_params(params),
            equity_eval=EquityEvalRecipe.from_params(params),
            estimate=EstimateConfig.from_params(params),
        )

    @classmethod
    def load(cls, path: Path = PARAMS_FILE) -> Params:
        """The settings as the file states them (DVC's params.yaml convention)."""
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(yaml.safe_load(fh) or {})
