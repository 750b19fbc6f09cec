"""Promote a candidate to production, or roll the last promotion back. Run only by a person.

This is the only code that writes ``ml_model/``. The outgoing set (three artifacts and manifest) is
archived in ``mlops/models/archive/<ts>/`` first. The swap is journalled so that a crash at any
point leaves the old set or the new one:

1. the incoming files are copied into ``ml_model/.promotion-staging/`` and flushed to disk;
2. ``ml_model/.promotion-journal.json`` is written atomically: this is the commit point;
3. each file is renamed into place, the manifest last; then journal and staging are removed.

A crash before (2) leaves the old set (the staging folder is discarded by the next run); a crash
after (2) is rolled forward by the next run of this script, before it does anything else. While a
swap is half done the manifest does not match, so the service refuses to load the mixed set and
keeps serving the old model. Each service worker picks the new set up within a second.

``--from-registry [challenger|champion|<number>]`` first downloads that registered model version's
artifact set from MLflow (file store or tracking server) into ``mlops/models/<model_version>/``
(staged, verified, then renamed), so a clone that never trained can promote what CI found.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ml_model.artifacts import ManifestError, load_model, verify_manifest, verify_probe
from ml_model.common import atomic_write_json, exit_script, setup_logging
from ml_model.paths import (
    ARCHIVE_DIR,
    ARTIFACT_FILES,
    MANIFEST_FILE,
    ML_MODEL_DIR,
    MODELS_DIR,
    PROMOTE_LOCK,
    REGISTERED_MODEL,
    STAGING_DIR,
    timestamp,
)
from mlops.mlflow_setup import TrackingUnavailable, configure
from mlops.scripts.utils import repair_registry

log = logging.getLogger(__name__)

SET_FILES = (*ARTIFACT_FILES, MANIFEST_FILE)  # the manifest last: it vouches for the others
STAGING = ".promotion-staging"
JOURNAL = ".promotion-journal.json"
ROLLED_FORWARD_ROLLBACK = "rolled forward an interrupted rollback"


class PromotionError(RuntimeError):
    """The promotion cannot go ahead; nothing in production was changed."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _after_commit(journal: dict[str, Any]) -> None:
    """What a committed swap owes its archives: the outgoing set's archive now counts (``committed``),
    and after a rollback the restored archive is marked rolled back. Idempotent."""
    if journal.get("archive"):
        path = Path(journal["archive"]) / "archive.json"
        atomic_write_json(path, {**json.loads(path.read_text()), "committed": True})
    if journal.get("rolled_back"):
        path = Path(journal["rolled_back"]) / "archive.json"
        atomic_write_json(path, {**json.loads(path.read_text()), "rolled_back_at": timestamp()})


def remove_debris(prod_dir: Path = ML_MODEL_DIR) -> list[str]:
    """Temp files and folders a killed promotion can leave: journal temp files, half-made archives,
    and archives of promotions that never reached their commit point. Call with the lock held."""
    removed = []
    archived = [*ARCHIVE_DIR.glob(".*.tmp"), *ARCHIVE_DIR.glob("*/.*.tmp")] if ARCHIVE_DIR.is_dir() else []
    for path in [*prod_dir.glob(".*.tmp"), *archived]:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():  # not inside a folder removed just before
            path.unlink()
        else:
            continue
        removed.append(str(path))
    for path in sorted(ARCHIVE_DIR.iterdir()) if ARCHIVE_DIR.is_dir() else []:
        meta = path / "archive.json"
        if path.is_dir() and meta.is_file() and json.loads(meta.read_text()).get("committed") is False:
            shutil.rmtree(path)
            removed.append(str(path))
    for path in removed:
        log.warning("Removed %s, left by an interrupted promotion.", path)
    return removed


def recover(prod_dir: Path = ML_MODEL_DIR) -> str | None:
    """Finish or discard a swap a crash interrupted, and clear its debris; returns what was done."""
    journal, staging = prod_dir / JOURNAL, prod_dir / STAGING
    done = None
    if journal.is_file():
        record = json.loads(journal.read_text())
        for name in record["files"]:
            if (staging / name).exists():
                os.replace(staging / name, prod_dir / name)
        _fsync_dir(prod_dir)
        _after_commit(record)
        journal.unlink()
        shutil.rmtree(staging, ignore_errors=True)
        log.warning("Rolled forward an interrupted promotion in %s.", prod_dir)
        done = ROLLED_FORWARD_ROLLBACK if record.get("rolled_back") else "rolled forward"
    elif staging.exists():
        shutil.rmtree(staging)
        log.warning("Discarded the staging folder of a promotion that never reached its commit point.")
        done = "discarded"
    return "removed debris" if remove_debris(prod_dir) and not done else done


def _recover_unless_dry(prod_dir: Path, dry_run: bool) -> str | None:
    """A dry run changes nothing: it only says that an interrupted swap is waiting."""
    if not dry_run:
        return recover(prod_dir)
    if (prod_dir / JOURNAL).exists() or (prod_dir / STAGING).exists():
        log.warning("An interrupted promotion is waiting in %s; a real run finishes it first.", prod_dir)
    return None


def swap_in(
    source: Path,
    prod_dir: Path = ML_MODEL_DIR,
    crash_after: int | None = None,
    archive: Path | None = None,
    rolled_back: Path | None = None,
) -> None:
    """Replace the production set with the verified set in ``source`` (see the module docstring).

    ``archive`` (the outgoing set's copy) counts only once the swap commits; ``rolled_back`` is the
    archive a rollback restores. ``crash_after`` stops after that many renames, to test recovery.
    """
    staging, journal = prod_dir / STAGING, prod_dir / JOURNAL
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for name in SET_FILES:
        shutil.copyfile(source / name, staging / name)
        with open(staging / name, "rb") as fh:
            os.fsync(fh.fileno())
    verify_manifest(staging)  # what we are about to install is exactly what was verified
    record = {"source": str(source), "files": list(SET_FILES),
              "archive": str(archive) if archive else None, "rolled_back": str(rolled_back) if rolled_back else None}  # fmt: skip
    atomic_write_json(journal, record)
    for i, name in enumerate(SET_FILES):
        if crash_after is not None and i >= crash_after:
            raise SystemExit(f"simulated crash after {i} renames")
        os.replace(staging / name, prod_dir / name)
    _fsync_dir(prod_dir)
    _after_commit(record)
    journal.unlink()
    staging.rmdir()


def archive_current(kind: str, note: dict[str, Any], prod_dir: Path = ML_MODEL_DIR) -> Path:
    """Copy the production set to ``archive/<ts>/`` (staged, then renamed) and return it."""
    ARCHIVE_DIR.mkdir(parents=True, exist_ok=True)
    name = timestamp()
    while (ARCHIVE_DIR / name).exists():
        name += "_1"
    tmp = ARCHIVE_DIR / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for f in SET_FILES:
        shutil.copy2(prod_dir / f, tmp / f)
    atomic_write_json(tmp / "archive.json", {"kind": kind, **note, "committed": False})
    tmp.rename(ARCHIVE_DIR / name)
    return ARCHIVE_DIR / name


def last_promotion_archive() -> Path | None:
    """The newest archive taken before a promotion that has not been rolled back yet."""
    if not ARCHIVE_DIR.is_dir():
        return None
    for path in sorted(
        (p for p in ARCHIVE_DIR.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True
    ):
        meta = json.loads((path / "archive.json").read_text())
        if (
            meta.get("kind") == "before_promotion"
            and meta.get("committed", True)
            and not meta.get("rolled_back_at")
        ):
            return path
    return None


def move_champion(manifest: dict[str, Any]) -> str:
    """Point MLflow alias ``champion`` at the registry version recorded for the model now in
    production: only that version, and only when it is this registry's (same run id), else the
    version tagged with production's model version; otherwise the alias is removed rather than
    left naming the model production no longer serves."""
    from mlflow.exceptions import MlflowException

    client = configure().tracking.MlflowClient()
    recorded = manifest.get("mlflow", {})
    version = recorded.get("registered_version")
    mv = None
    if version:
        with contextlib.suppress(MlflowException):
            mv = client.get_model_version(REGISTERED_MODEL, str(version))
    if mv is not None and (not recorded.get("run_id") or mv.run_id == recorded["run_id"]):
        client.set_registered_model_alias(REGISTERED_MODEL, "champion", str(version))
        return f"alias 'champion' now points at {REGISTERED_MODEL} version {version}"
    tagged = tagged_version(client, manifest.get("model_version"))
    if (
        tagged is not None
    ):  # production as first registered (retrain's ensure_champion), e.g. after a rollback
        client.set_registered_model_alias(REGISTERED_MODEL, "champion", tagged)
        return f"alias 'champion' now points at {REGISTERED_MODEL} version {tagged} (tagged {manifest['model_version']})"
    with contextlib.suppress(MlflowException):
        client.delete_registered_model_alias(REGISTERED_MODEL, "champion")
    if version:
        return (f"the production model was registered as version {version} in another MLflow store (not this "
                "one), so alias 'champion' was removed here")  # fmt: skip
    return "the production model is not in the registry; alias 'champion' removed"


def tagged_version(client: Any, model_version: str | None) -> str | None:
    """The newest registry version tagged with this model version: how production as first registered
    (by retrain's ``ensure_champion``, which cannot write production's manifest) is found again."""
    if not model_version:
        return None
    found = [int(v.version) for v in client.search_model_versions(f"name='{REGISTERED_MODEL}'")
             if v.tags.get("model_version") == model_version and v.run_id
             and client.get_run(v.run_id).info.status == "FINISHED"]  # fmt: skip
    return str(max(found)) if found else None


def candidate_dir(version: str) -> Path:
    """A candidate is a folder name inside mlops/models/ and nothing else (no paths, no '..')."""
    if not re.fullmatch(r"v[0-9A-Za-z_]+", version):
        raise PromotionError(
            f"{version!r} is not a candidate name; candidates are the v<timestamp> folders in {MODELS_DIR}"
        )
    return MODELS_DIR / version


def _registered_version(client: Any, ref: str) -> Any:
    """The model version an alias or a number names; a clear error when there is none."""
    from mlflow.exceptions import MlflowException

    try:
        if ref.isdigit():
            return client.get_model_version(REGISTERED_MODEL, ref)
        return client.get_model_version_by_alias(REGISTERED_MODEL, ref)
    except MlflowException as exc:
        kind = "version" if ref.isdigit() else "alias"
        raise PromotionError(
            f"the registry has no {REGISTERED_MODEL} {kind} {ref!r} ({exc.error_code})"
        ) from exc


def fetch_registered(ref: str) -> str:
    """Download registered version ``ref`` into mlops/models/ (staged, verified, renamed); returns its name.

    The logged manifest is completed with the registry coordinates, so promotion moves ``champion``
    to exactly this version. A folder of that name already there must hold the same bytes.
    """
    import mlflow.artifacts

    client = configure().tracking.MlflowClient()
    mv = _registered_version(client, ref)
    STAGING_DIR.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="registry.", dir=STAGING_DIR))
    try:
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{REGISTERED_MODEL}/{mv.version}", dst_path=str(tmp)
        )
        staged = tmp / "set"
        staged.mkdir()
        for name in SET_FILES:
            if not (tmp / "artifacts" / name).is_file():
                raise PromotionError(
                    f"registered version {mv.version} has no {name}: it is not a servable set"
                )
            shutil.copyfile(tmp / "artifacts" / name, staged / name)
        try:
            manifest = verify_manifest(staged)
        except ManifestError as exc:
            raise PromotionError(f"registered version {mv.version} does not verify: {exc}") from exc
        manifest["mlflow"] = {"run_id": mv.run_id, "model_uri": mv.source,
                              "registered_model": REGISTERED_MODEL, "registered_version": str(mv.version)}  # fmt: skip
        atomic_write_json(staged / MANIFEST_FILE, manifest)
        final = candidate_dir(str(manifest.get("model_version")))
        if final.exists():
            if verify_manifest(final)["artifacts"] != manifest["artifacts"]:
                raise PromotionError(
                    f"{final} exists and holds other artifacts than registered version {mv.version}"
                )
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


def repair_tracking() -> None:
    """What a killed retrain or promotion left in MLflow is repaired first; an unreachable server
    only warns here (the alias move at the end reports it)."""
    try:
        repair_registry(configure())
    except TrackingUnavailable as exc:
        log.warning("Could not check the MLflow registry for leftovers: %s", exc)


def plan_swap(incoming_dir: Path, prod_dir: Path) -> dict[str, Any]:
    """Verify both sets before anything moves; returns what would be replaced by what."""
    try:
        incoming = verify_manifest(incoming_dir)
        outgoing = verify_manifest(prod_dir)
    except ManifestError as exc:
        raise PromotionError(str(exc)) from exc
    return {
        "from": outgoing.get("model_version"),
        "to": incoming.get("model_version"),
        "source": str(incoming_dir),
    }


def promote(version: str, dry_run: bool = False, prod_dir: Path = ML_MODEL_DIR) -> dict[str, Any]:
    """Archive production and swap in candidate ``version``; a dry run only verifies and says so."""
    _recover_unless_dry(prod_dir, dry_run)
    source = candidate_dir(version)
    if not source.is_dir():
        raise PromotionError(
            f"no candidate {source}; candidates are the v<timestamp> folders in {MODELS_DIR}"
        )
    plan = plan_swap(source, prod_dir)
    if verify_manifest(source)["artifacts"] == verify_manifest(prod_dir)["artifacts"]:
        log.info("Candidate %s is already in production; nothing to swap.", version)  # e.g. after a crash
        return plan
    try:  # loaded exactly as the service loads it, and scored on the batch training recorded
        verify_probe(load_model(source))
    except Exception as exc:  # a set that does not load is refused, whatever the reason
        raise PromotionError(f"candidate {version} does not load and score as trained: {exc}") from exc
    log.info("Candidate %s loads as the service loads it and scores its probe batch as trained.", version)
    if dry_run:
        log.info(
            "Dry run: would archive production %s and promote %s from %s.", plan["from"], plan["to"], source
        )
        return plan
    archived = archive_current(
        "before_promotion", {"replaced_by": plan["to"], "version": plan["from"]}, prod_dir
    )
    log.info("Archived production %s to %s.", plan["from"], archived)
    swap_in(source, prod_dir, archive=archived)
    log.info("Production is now %s (was %s).", plan["to"], plan["from"])
    plan["archive"] = str(archived)
    return plan


def rollback(dry_run: bool = False, prod_dir: Path = ML_MODEL_DIR) -> dict[str, Any]:
    """Restore the set the last un-rolled-back promotion replaced (archiving the current one first)."""
    if _recover_unless_dry(prod_dir, dry_run) == ROLLED_FORWARD_ROLLBACK:  # the one asked for, finished
        version = verify_manifest(prod_dir).get("model_version")
        log.info("The interrupted rollback is finished: production is %s.", version)
        return {"from": None, "to": version, "source": "an interrupted rollback"}
    target = last_promotion_archive()
    if target is None:
        raise PromotionError(f"nothing to roll back: no un-restored promotion archive in {ARCHIVE_DIR}")
    plan = plan_swap(target, prod_dir)
    if dry_run:
        log.info("Dry run: would restore %s from %s, replacing %s.", plan["to"], target, plan["from"])
        return plan
    archived = archive_current(
        "before_rollback", {"replaced_by": plan["to"], "version": plan["from"]}, prod_dir
    )
    swap_in(target, prod_dir, archive=archived, rolled_back=target)
    log.info("Rolled back: production is %s again (was %s).", plan["to"], plan["from"])
    return plan


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, take the promotion lock, run; exit 2 refused, 3 busy, 4 alias not moved."""
    parser = argparse.ArgumentParser(
        description="Promote a candidate to production (ml_model/), or roll back."
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--version", help="candidate folder name in mlops/models, e.g. v20261127_101500")
    what.add_argument("--from-registry", nargs="?", const="challenger", metavar="ALIAS_OR_VERSION",
                      help="a registered version of lawyer_match_model: an alias (default challenger) or a number")  # fmt: skip
    what.add_argument("--rollback", action="store_true", help="restore the set the last promotion replaced")
    parser.add_argument(
        "--dry-run", action="store_true", help="verify and say what would happen; change nothing"
    )
    parser.add_argument(
        "--check", action="store_true", help="afterwards, run doctor.py's consistency check (exit 1 if not)"
    )
    args = parser.parse_args(argv)
    setup_logging()
    lock = FileLock(PROMOTE_LOCK)
    try:
        PROMOTE_LOCK.parent.mkdir(parents=True, exist_ok=True)
        with lock.acquire(timeout=0):
            if not args.dry_run:
                repair_tracking()
            if args.rollback:
                plan = rollback(args.dry_run)
            else:
                version = fetch_registered(args.from_registry) if args.from_registry else args.version
                plan = promote(version, args.dry_run)
    except Timeout:
        log.error(
            "Another promotion or rollback is running (lock %s); try again when it has finished.",
            PROMOTE_LOCK,
        )
        return 3
    except (PromotionError, TrackingUnavailable, OSError) as exc:
        log.error("Not promoted: %s", exc)
        return 2
    if args.dry_run:
        return 0
    try:
        log.info("MLflow: %s.", move_champion(verify_manifest(ML_MODEL_DIR)))
    except Exception as exc:  # the files are promoted; say exactly what is left to do
        log.error("Production files are %s, but moving the MLflow alias failed: %s", plan["to"], exc)
        return 4
    log.info("Production is %s. A running service picks it up within a second (or restart it).", plan["to"])
    return _check() if args.check else 0


def _check() -> int:
    """doctor.py's findings, in this process (imported here: doctor imports this module)."""
    from mlops.scripts import doctor

    found = doctor.check()
    for line in found:
        log.error("Inconsistent: %s", line)
    return 1 if found else 0


if __name__ == "__main__":
    exit_script(main())
