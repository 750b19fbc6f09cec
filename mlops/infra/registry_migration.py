"""Copy the model registry from one tracking store to another (``migrate_runs.py``).

Registered models, their versions (pointing at the migrated runs and logged models, with their
tags and descriptions) and their aliases. A version copied before is found by its source-version
tag and not copied again; an alias that already points elsewhere on the destination is left alone:
the server's live alias wins over history.
"""

from __future__ import annotations

import logging
from typing import Any

from mlops.infra.run_migration import SOURCE_VERSION_TAG, Report, paged

log = logging.getLogger(__name__)


def key_of(name: str, version: Any) -> str:
    """``name/version``: the key of a model version in the report's maps and messages."""
    return f"{name}/{version}"


def _copy_version(dst: Any, rm: Any, mv: Any, rep: Report) -> str | None:
    """One model version, pointing at its migrated run and logged model; None when those were not copied."""
    key = key_of(rm.name, mv.version)
    new_run = rep.run_ids.get(mv.run_id) if mv.run_id else None
    new_model = rep.model_ids.get(mv.model_id) if mv.model_id else None
    if mv.run_id and not new_run:
        log.warning("Version %s: its run %s was not migrated; skipped.", key, mv.run_id)
        return None
    if not new_model and mv.source.startswith("models:/m-"):
        log.warning("Version %s: its logged model %s was not migrated; skipped.", key, mv.model_id)
        return None
    created = dst.create_model_version(
        rm.name,
        f"models:/{new_model}" if new_model else mv.source,
        run_id=new_run,
        tags={**(mv.tags or {}), SOURCE_VERSION_TAG: str(mv.version)},
        description=mv.description,
        model_id=new_model,
    )
    rep.model_versions += 1
    return str(created.version)


def _copy_versions(src: Any, dst: Any, rm: Any, rep: Report) -> None:
    """Every version of ``rm``, oldest first (their order is kept); those copied before are mapped."""
    done = {
        (mv.tags or {}).get(SOURCE_VERSION_TAG): str(mv.version)
        for mv in dst.search_model_versions(f"name = '{rm.name}'")
    }
    for mv in sorted(src.search_model_versions(f"name = '{rm.name}'"), key=lambda v: int(v.version)):
        new = done.get(str(mv.version)) or _copy_version(dst, rm, mv, rep)
        if new:
            rep.versions[key_of(rm.name, mv.version)] = new


def _copy_aliases(dst: Any, rm: Any, rep: Report) -> None:
    """The aliases of ``rm`` on their migrated versions; a live alias elsewhere on the destination wins."""
    live = dst.get_registered_model(rm.name).aliases or {}
    for alias, version in (rm.aliases or {}).items():
        target = rep.versions.get(key_of(rm.name, version))
        if not target:
            continue
        if alias in live and str(live[alias]) != target:
            log.warning(
                "Alias %s@%s already points at version %s on the destination; left as it is "
                "(the migrated version %s is %s).",
                rm.name,
                alias,
                live[alias],
                key_of(rm.name, version),
                target,
            )
            continue
        dst.set_registered_model_alias(rm.name, alias, target)
        rep.aliases += 1


def migrate_registry(src: Any, dst: Any, rep: Report) -> None:
    """Copy registered models, versions and aliases; a live alias on the destination wins."""
    from mlflow.exceptions import MlflowException

    for rm in paged(src.search_registered_models, max_results=100):
        try:
            dst.get_registered_model(rm.name)
        except MlflowException:
            dst.create_registered_model(rm.name, tags=rm.tags or None, description=rm.description)
        _copy_versions(src, dst, rm, rep)
        _copy_aliases(dst, rm, rep)
