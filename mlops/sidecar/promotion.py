"""Promotion and rollback: which set goes into production, checked before anything moves.

A candidate is a ``v<timestamp>`` folder in ``mlops/models/``, nothing else (no paths). Before it
replaces production it must verify and load exactly as the service loads it, and score the probe
batch its training recorded, so junk or swapped weights with a rewritten manifest are refused.
The files then move by the journalled swap (``swap.py``); a rollback swaps back the set the last
promotion archived. A dry run verifies and says what would happen, and changes nothing.

``fetch_registered`` first downloads a registered version's set from MLflow (file store or
tracking server) into ``mlops/models/<model_version>/`` (staged, verified, then renamed), so a
clone that never trained can promote what CI found; ``dry_run_registered`` verifies one in a
private temp folder and leaves nothing behind.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ml_model.artifacts import ManifestError, load_model, verify_manifest, verify_probe
from ml_model.common import atomic_write_json
from ml_model.paths import MANIFEST_FILE, ML_MODEL_DIR
from mlops.mlflow_setup import TrackingUnavailable, configure
from mlops.paths import ARCHIVE_DIR, MODELS_DIR, PROMOTE_LOCK, REGISTERED_MODEL, SET_FILES, STAGING_DIR
from mlops.sidecar.approval import Approval, NotApproved, approve, record_forced
from mlops.sidecar.locks import held
from mlops.sidecar.registry import registered_version, registry_record, repair_if_reachable
from mlops.sidecar.swap import (
    ROLLED_FORWARD_ROLLBACK,
    archive_current,
    interrupted,
    last_promotion_archive,
    recover,
    swap_in,
)

log = logging.getLogger(__name__)


class PromotionError(RuntimeError):
    """The promotion cannot go ahead; nothing in production was changed."""


@dataclass(frozen=True)
class SwapPlan:
    """What a promotion or rollback replaces by what, and where the outgoing set was archived."""

    outgoing: str | None  # production's model version before
    incoming: str | None  # the version production serves after
    source: str  # the folder the incoming set comes from
    archive: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``from`` and ``to`` as the log says them)."""
        out = asdict(self)
        return {"from": out.pop("outgoing"), "to": out.pop("incoming"), **out}


def candidate_dir(version: str) -> Path:
    """A candidate is a folder name inside mlops/models/ and nothing else (no paths, no '..')."""
    if not re.fullmatch(r"v[0-9A-Za-z_]+", version):
        raise PromotionError(
            f"{version!r} is not a candidate name; candidates are the v<timestamp> folders in {MODELS_DIR}"
        )
    return MODELS_DIR / version


def _recover_unless_dry(prod_dir: Path, dry_run: bool) -> str | None:
    """A dry run changes nothing: it only says that an interrupted swap is waiting."""
    if not dry_run:
        return recover(prod_dir)
    if interrupted(prod_dir):
        log.warning("An interrupted promotion is waiting in %s; a real run finishes it first.", prod_dir)
    return None


def plan_swap(incoming_dir: Path, prod_dir: Path) -> SwapPlan:
    """Verify both sets before anything moves; returns what would be replaced by what."""
    try:
        incoming = verify_manifest(incoming_dir)
        outgoing = verify_manifest(prod_dir)
    except ManifestError as exc:
        raise PromotionError(str(exc)) from exc
    return SwapPlan(outgoing.get("model_version"), incoming.get("model_version"), str(incoming_dir))


def _check_loads(source: Path, version: str) -> None:
    """Loaded exactly as the service loads it, and scored on the batch training recorded."""
    try:
        verify_probe(load_model(source))
    except Exception as exc:  # a set that does not load is refused, whatever the reason
        raise PromotionError(f"candidate {version} does not load and score as trained: {exc}") from exc
    log.info("Candidate %s loads as the service loads it and scores its probe batch as trained.", version)


def _tracking_client() -> Any | None:
    """The tracking client, or None when the store cannot be reached (a candidate folder can still
    be promoted; its gate decision is in its signed manifest)."""
    try:
        return configure().tracking.MlflowClient()
    except TrackingUnavailable as exc:
        log.warning("The tracking store cannot be reached (%s); approval is read from the set alone.", exc)
        return None


def promote(
    version: str,
    dry_run: bool = False,
    prod_dir: Path = ML_MODEL_DIR,
    force_reason: str | None = None,
    registry: bool = False,
) -> SwapPlan:
    """Archive production and swap in candidate ``version``; a dry run only verifies and says so.
    ``registry``: the candidate was just downloaded from this tracking store, so its run must be there."""
    _recover_unless_dry(prod_dir, dry_run)
    source = candidate_dir(version)
    if not source.is_dir():
        raise PromotionError(
            f"no candidate {source}; candidates are the v<timestamp> folders in {MODELS_DIR}"
        )
    return _promote_from(source, version, dry_run, prod_dir, force_reason, registry)


def _approved(source: Path, what: str, force_reason: str | None, registry: bool) -> tuple[Approval, Any]:
    """The set's approval (signed, run finished, gate improved, or forced) and the tracking client."""
    client = _tracking_client()
    try:
        return approve(verify_manifest(source), client, what, force_reason, registry), client
    except NotApproved as exc:
        raise PromotionError(str(exc)) from exc


def _promote_from(
    source: Path,
    version: str,
    dry_run: bool,
    prod_dir: Path,
    force_reason: str | None = None,
    registry: bool = False,
) -> SwapPlan:
    """The swap of a verified, approved set in ``source`` (a candidate folder, or a dry run's download)."""
    plan = plan_swap(source, prod_dir)  # both signatures and manifests, before anything else
    if verify_manifest(source)["artifacts"] == verify_manifest(prod_dir)["artifacts"]:
        log.info("Candidate %s is already in production; nothing to swap.", version)  # e.g. after a crash
        return plan
    approval, client = _approved(source, f"candidate {version}", force_reason, registry)
    _check_loads(source, version)
    if dry_run:
        log.info("Dry run: would archive production %s and promote %s.", plan.outgoing, plan.incoming)
        return plan
    note = {"replaced_by": plan.incoming, "version": plan.outgoing, **approval.as_note()}
    archived = archive_current("before_promotion", note, prod_dir)
    log.info("Archived production %s to %s.", plan.outgoing, archived)
    swap_in(source, prod_dir, archive=archived)
    log.info("Production is now %s (was %s).", plan.incoming, plan.outgoing)
    registered = (verify_manifest(prod_dir).get("mlflow") or {}).get("registered_version")
    record_forced(client, approval, registered)
    return replace(plan, archive=str(archived))


def dry_run_registered(ref: str, prod_dir: Path = ML_MODEL_DIR, force_reason: str | None = None) -> SwapPlan:
    """Verify registered version ``ref`` as a promotion would, in a private temp folder that is
    removed afterwards: a dry run leaves nothing in mlops/models/ or anywhere else."""
    _recover_unless_dry(prod_dir, dry_run=True)
    mv = registered_version(configure().tracking.MlflowClient(), ref)
    tmp = Path(tempfile.mkdtemp(prefix="legalaid-dry-run."))  # mode 0700, outside the repository
    try:
        staged = _download_set(mv, tmp)
        _registered_target(staged, mv)
        what = f"registered version {mv.version} ({ref})"
        return _promote_from(staged, what, True, prod_dir, force_reason, registry=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def rollback(dry_run: bool = False, prod_dir: Path = ML_MODEL_DIR) -> SwapPlan:
    """Restore the set the last un-rolled-back promotion replaced (archiving the current one first)."""
    if _recover_unless_dry(prod_dir, dry_run) == ROLLED_FORWARD_ROLLBACK:  # the one asked for, finished
        version = verify_manifest(prod_dir).get("model_version")
        log.info("The interrupted rollback is finished: production is %s.", version)
        return SwapPlan(None, version, "an interrupted rollback")
    target = last_promotion_archive()
    if target is None:
        raise PromotionError(f"nothing to roll back: no un-restored promotion archive in {ARCHIVE_DIR}")
    plan = plan_swap(target, prod_dir)
    if dry_run:
        log.info("Dry run: would restore %s from %s, replacing %s.", plan.incoming, target, plan.outgoing)
        return plan
    note = {"replaced_by": plan.incoming, "version": plan.outgoing}
    archived = archive_current("before_rollback", note, prod_dir)
    swap_in(target, prod_dir, archive=archived, rolled_back=target)
    log.info("Rolled back: production is %s again (was %s).", plan.incoming, plan.outgoing)
    return replace(plan, archive=str(archived))


def _download_set(mv: Any, tmp: Path) -> Path:
    """Registered version ``mv``'s artifact set, verified, in ``tmp/set``, its manifest completed with
    the registry coordinates (so promotion moves ``champion`` to exactly this version)."""
    import mlflow.artifacts

    mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{REGISTERED_MODEL}/{mv.version}", dst_path=str(tmp)
    )
    staged = tmp / "set"
    staged.mkdir()
    for name in SET_FILES:
        if not (tmp / "artifacts" / name).is_file():
            raise PromotionError(f"registered version {mv.version} has no {name}: it is not a servable set")
        shutil.copyfile(tmp / "artifacts" / name, staged / name)
    try:
        manifest = verify_manifest(staged)
    except ManifestError as exc:
        raise PromotionError(f"registered version {mv.version} does not verify: {exc}") from exc
    manifest["mlflow"] = registry_record(mv.run_id, mv.source, mv.version)
    atomic_write_json(staged / MANIFEST_FILE, manifest)
    return staged


def _registered_target(staged: Path, mv: Any) -> Path:
    """The candidate folder a downloaded set goes to; one already there must hold the same bytes."""
    manifest = verify_manifest(staged)
    final = candidate_dir(str(manifest.get("model_version")))
    if final.exists() and verify_manifest(final)["artifacts"] != manifest["artifacts"]:
        raise PromotionError(f"{final} exists and holds other artifacts than registered version {mv.version}")
    return final


@dataclass(frozen=True)
class Request:
    """What a person asked for: a candidate, a registered version, or a rollback; and whether dry."""

    version: str | None = None
    from_registry: str | None = None
    rollback: bool = False
    dry_run: bool = False
    force_reason: str | None = None  # --force --reason: overrides the gate's decision only


def run(request: Request) -> SwapPlan:
    """Under the promotion lock: repair what a crash left (unless dry), then promote or roll back."""
    with held(PROMOTE_LOCK):
        if not request.dry_run:
            repair_if_reachable()
        if request.rollback:
            return rollback(request.dry_run)
        if request.from_registry and request.dry_run:
            return dry_run_registered(request.from_registry, force_reason=request.force_reason)
        if request.from_registry:
            version = fetch_registered(request.from_registry, request.force_reason)
            return promote(version, force_reason=request.force_reason, registry=True)
        if request.version is None:
            raise PromotionError("nothing to promote: name a candidate, a registered version or --rollback")
        return promote(request.version, request.dry_run, force_reason=request.force_reason)


def fetch_registered(ref: str, force_reason: str | None = None) -> str:
    """Download registered version ``ref`` (an alias or a number) into mlops/models/ when it verifies
    and is approved (nothing is left behind otherwise); returns its name."""
    mv = registered_version(configure().tracking.MlflowClient(), ref)
    STAGING_DIR.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="registry.", dir=STAGING_DIR))
    try:
        staged = _download_set(mv, tmp)
        _approved(staged, f"registered version {mv.version} ({ref})", force_reason, registry=True)
        final = _registered_target(staged, mv)
        if final.exists():
            log.info(
                "Registered version %s is candidate %s, already in %s.", mv.version, final.name, MODELS_DIR
            )
        else:
            MODELS_DIR.mkdir(parents=True, exist_ok=True)
            staged.rename(final)
            log.info("Downloaded registered version %s (%s) to %s.", mv.version, ref, final)
        return final.name
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
