"""Production's quality on labelled current rows against its held-out reference rows.

When the current data carries outcomes, the model itself can be judged, not only its inputs: a
ROC AUC drop beyond noise is concept drift (the features look the same but the world answers
differently), reported overall, as calibration, and by group.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ml_model.metrics import classification_metrics, expected_calibration_error
from ml_model.schema import LABEL
from mlops.sidecar.config import Params
from mlops.sidecar.drift import AucCheck, AucDrop
from mlops.sidecar.equity import auc_se, group_metrics
from mlops.sidecar.monitor_inputs import Observed
from mlops.sidecar.scoring import load_production, score, split_rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProductionQuality:
    """Production on the labelled current rows beside its held-out reference rows."""

    model_version: str
    labelled_rows: int
    reference_rows: int  # the held-out reference rows: production was not trained on them
    reference: dict[str, float]  # the five metrics on the held-out reference rows
    current: dict[str, float]  # and on the labelled current rows
    current_ece: float
    auc: AucDrop
    auc_floor: float  # a current ROC AUC below this is concept drift (``AucDrop.floor``)
    by_group: dict[str, Any]
    # Set when the labelled rows are the drift tests' own: Evidently's ROC AUC test is then the rule.
    auc_check: AucCheck | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form in the monitor's report (``classification_quality``)."""
        return {
            "model_version": self.model_version,
            "labelled_rows": self.labelled_rows,
            "reference_rows": self.reference_rows,
            "reference": self.reference,
            "current": self.current,
            "current_ece": self.current_ece,
            "auc_drop": self.auc.drop,
            "auc_drop_se": self.auc.se,
            "auc_floor": self.auc_floor,
            "by_group": self.by_group,
        }


def production_quality(obs: Observed, params: Params) -> ProductionQuality | None:
    """Production's quality on ``obs.labelled`` against its held-out reference rows; None without
    labels (or with one label value, where ROC AUC is undefined)."""
    cur = obs.labelled
    if cur is None:
        return None
    if cur[LABEL].nunique() < 2:
        log.warning("The %d labelled current rows have one label value: no quality measure.", len(cur))
        return None
    model = load_production()
    _, held_out = split_rows(obs.reference, params.split)  # rows production was not trained on
    ref_q = classification_metrics(held_out[LABEL].to_numpy(), score(model, held_out).to_numpy())
    prob = score(model, cur).to_numpy()
    cur_q = classification_metrics(cur[LABEL].to_numpy(), prob)
    se = (auc_se(ref_q["roc_auc"], held_out[LABEL]) ** 2 + auc_se(cur_q["roc_auc"], cur[LABEL]) ** 2) ** 0.5
    auc = AucDrop(ref_q["roc_auc"], cur_q["roc_auc"], se)
    floor = auc.floor(params.monitor.max_auc_drop)  # from the held-out AUC: the reference figure
    # Only the current rows' scores go to Evidently (drift._auc_snapshot says why): its test is the rule.
    check = AucCheck(prob, floor) if obs.labelled_are_tested else None
    by_group = group_metrics(cur, prob, LABEL, list(params.income_bands))
    ece = expected_calibration_error(cur[LABEL].to_numpy(), prob)
    return ProductionQuality(
        model.version, len(cur), len(held_out), ref_q, cur_q, ece, auc, floor, by_group, check
    )
