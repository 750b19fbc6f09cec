"""Which sets may be promoted: signed, from a finished run, and approved by the gate.

The signature and the safe loading are checked by ``ml_model.artifacts`` on every load and cannot
be overridden. Approval is the gate's record: the decision in the set's signed manifest (written by
the retrain that made it), and, where the tracking store knows the run, that run's status and
``decision`` tag. A set production itself once served (a registered ``kind=production`` run) is
approved as such. ``--force --reason`` overrides the gate's decision only, never an unfinished run,
and the reason is recorded in the run, the model version's description and the archive.
"""

from __future__ import annotations

import getpass
import logging
from dataclasses import dataclass
from typing import Any

from mlops.paths import REGISTERED_MODEL

log = logging.getLogger(__name__)


class NotApproved(RuntimeError):
    """The set is not approved for production; nothing was changed."""


@dataclass(frozen=True)
class Approval:
    """Why a set may go into production: the gate's decision, or a person's recorded override."""

    run_id: str | None
    forced_reason: str | None = None

    def as_note(self) -> dict[str, Any]:
        """What the archive records of the approval."""
        return {"forced_reason": self.forced_reason} if self.forced_reason else {}


def _run(client: Any, run_id: str | None) -> Any | None:
    """The run, or None when this tracking store does not hold it (a set brought from elsewhere)."""
    from mlflow.exceptions import MlflowException

    if not run_id or client is None:
        return None
    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        return None


def gate_decision(manifest: dict[str, Any], run: Any | None) -> str:
    """``improved``, ``rejected``, ``production`` or ``unknown``: the signed manifest's decision,
    which a run's tag (when the run is known) must not contradict."""
    decision = manifest.get("decision")
    signed = None
    if isinstance(decision, dict) and "improved" in decision:
        signed = "improved" if decision["improved"] is True else "rejected"
    tags = run.data.tags if run is not None else {}
    if tags.get("kind") == "production" and signed is None:
        return "production"
    tagged = tags.get("decision")
    if signed and tagged and tagged != signed:
        return "rejected"  # a disagreement is never an approval
    return signed or tagged or "unknown"


def approve(
    manifest: dict[str, Any], client: Any | None, what: str, force_reason: str | None, registry: bool
) -> Approval:
    """Approve a verified set for promotion, or raise NotApproved saying why and what would do.

    ``client`` is the tracking client (None when the store cannot be reached); with ``registry``
    the set came from this store, so its run must be found there.
    """
    run_id = (manifest.get("mlflow") or {}).get("run_id")
    run = _run(client, run_id)
    if registry and run is None:
        raise NotApproved(f"{what}: its run {run_id} is not in the tracking store")
    if run is not None and run.info.status != "FINISHED":
        raise NotApproved(f"{what}: its run {run.info.run_name or run_id} is {run.info.status}, not FINISHED")
    if run is None:
        log.info(
            "%s: its run is not in this tracking store; the gate's decision is read from its signed manifest.",
            what,
        )
    decision = gate_decision(manifest, run)
    if decision in ("improved", "production"):
        return Approval(run_id)
    reason = (manifest.get("decision") or {}).get("reason", "no reason recorded")
    if not force_reason:
        raise NotApproved(
            f"{what}: the gate's decision is {decision!r} ({reason}); only approved candidates are promoted. "
            'To override the gate, add --force --reason "why", which is recorded'
        )
    log.warning("%s: the gate said %r; promoting anyway, as forced: %s", what, decision, force_reason)
    return Approval(run_id, force_reason)


def record_forced(client: Any | None, approval: Approval, version: str | None) -> None:
    """Write a forced promotion's reason into its run and its model version's description."""
    if not approval.forced_reason or client is None:
        return
    from mlflow.exceptions import MlflowException

    who = getpass.getuser()
    text = f"Promoted by {who} with --force over the gate's decision: {approval.forced_reason}"
    try:
        if approval.run_id:
            client.set_tag(approval.run_id, "forced_promotion", text)
            log.warning("Recorded the forced promotion in run %s.", approval.run_id)
        if version:
            mv = client.get_model_version(REGISTERED_MODEL, version)
            description = f"{mv.description or ''}\n\n{text}".strip()
            client.update_model_version(REGISTERED_MODEL, version, description=description)
            log.warning("Recorded the forced promotion in version %s's description.", version)
    except MlflowException as exc:  # the archive holds the reason; say what MLflow does not
        log.error(
            "Could not record the forced promotion in MLflow (%s); the archive records it.", exc.error_code
        )
