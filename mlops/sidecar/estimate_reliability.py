"""Whether CBPE's estimate can be trusted: the calibration error of the days whose outcomes arrived.

The estimate (``cbpe.py``) rests on the reference's calibration. When a labelled day shows the
calibrated probabilities off from the outcomes (ECE above ``monitor.estimate.max_ece``), that no
longer holds by an amount no band can express (under ``concept`` the estimate is 0.1 off with a
band of +-0.015), so later estimates are marked unreliable rather than widened.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ml_model.metrics import expected_calibration_error
from mlops.sidecar.cbpe import checked_probabilities
from mlops.sidecar.config import EstimateConfig


def day_ece(probs: Any, labels: Any, cfg: EstimateConfig) -> float | None:
    """A labelled day's calibration error (calibrated probabilities against outcomes, ECE as
    ml_model.metrics defines it), or None below ``min_labels`` labels, where ECE is mostly noise."""
    p = checked_probabilities(probs, "probs")
    y = np.asarray(labels, dtype=float)
    if y.shape != p.shape:
        raise ValueError(f"labels: {y.shape[0] if y.ndim else 0} labels for {len(p)} probabilities")
    return None if len(p) < cfg.min_labels else expected_calibration_error(y, p)


def reliability(recent_eces: Sequence[float | None], cfg: EstimateConfig) -> tuple[bool, str]:
    """Whether today's estimate can be trusted, and why: not when any recent labelled day's ECE
    (``day_ece``, oldest first; None or NaN for a day without enough labels) exceeded
    ``cfg.max_ece``, since then the calibration the estimate rests on has changed by an amount the
    band cannot express. Which days count as recent is the caller's window."""
    measured = [(i, e) for i, e in enumerate(recent_eces) if e is not None and not math.isnan(e)]
    if not measured:
        return True, "no labelled day yet checks the calibration: it is the reference's"
    worst = max(e for _, e in measured)
    over = [i for i, e in measured if e > cfg.max_ece]
    if not over:
        return True, f"calibration error of {len(measured)} recent labelled day(s) at most {worst:.3f}"
    back = len(recent_eces) - 1 - over[-1]
    last = "on the newest day" if back == 0 else f"{back} day(s) before the newest"
    return False, (
        f"{len(over)} of {len(measured)} recent labelled days had calibration error above max_ece "
        f"{cfg.max_ece:g} (worst {worst:.3f}, last seen {last}): the world answers the scores "
        "differently from the reference, which the estimate cannot see"
    )
