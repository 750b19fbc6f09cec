"""The log store (``logstore``) for ``expire`` and ``erase``: where the shipper put this host's rows.

The store is found as ``scripts/ship_logs.py`` finds it (``LOG_STORE``, else ``store/`` beside
``PREDICTION_LOG``). While it changes the log and the store, the command holds the host's
shipping lock, so a shipper cannot put back a row that is being erased or a day being expired
(it waits for the file it is shipping, a few seconds). A folder store that does not exist holds
nothing; an S3 store that cannot be reached is a problem (exit 1), never skipped in silence.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from clientdata.config import Retention, Stores, cutoff
from logstore.ledger import exclusive, ledger_lock

if TYPE_CHECKING:
    from logstore.store import LogStore

SHIPPER_WAIT_S = 300.0  # a shipper holds the lock for one file at a time


class Said(Protocol):
    """What ``actions.Outcome`` offers: a sentence said, or a problem."""

    def say(self, sentence: str) -> None: ...
    def fail(self, sentence: str) -> None: ...


@contextlib.contextmanager
def shipping_paused(log: Path, timeout: float | None = None) -> Iterator[None]:
    """The host's shipping lock held (when a shipper has ever run here); Busy after ``timeout``
    (default ``SHIPPER_WAIT_S``)."""
    lock = ledger_lock(log)
    if not lock.parent.is_dir():
        yield
        return
    with exclusive(lock, SHIPPER_WAIT_S if timeout is None else timeout):
        yield


def open_store(out: Said, stores: Stores) -> LogStore | None:
    """The store, or None when there is none (an absent folder) or it cannot be opened (said)."""
    from logstore.backend import StoreError
    from logstore.store import LogStore

    uri = stores.log_store
    if "://" not in uri and not Path(uri).exists():
        return None
    try:
        return LogStore.open(uri)
    except StoreError as exc:
        out.fail(f"The log store could not be opened: {exc}.")
        return None


def expire(out: Said, stores: Stores, limits: Retention, now: datetime, apply: bool) -> None:
    """Day partitions older than the prediction log's limit; exports older than theirs."""
    store = open_store(out, stores)
    if store is None:
        return
    before = cutoff(now, limits.prediction_log_days).date()
    try:
        days = [d for d in store.days() if d < before]
        if days:
            store.expire(before, apply)
            verb = "Deleted" if apply else "Would delete"
            out.say(
                f"{verb} {len(days):,} day(s) of predictions ({days[0]} to {days[-1]}), served before "
                f"{before}, from the log store {store}."
            )
        for name in store.expire_outcomes(cutoff(now, limits.outcome_exports_days), apply):
            out.say(
                f"{'Deleted' if apply else 'Would delete'} outcome export {name} from the log store {store}."
            )
    except (OSError, ValueError) as exc:
        out.fail(f"The log store {store} could not be expired: {exc}.")


def erase(out: Said, stores: Stores, match_id: str) -> None:
    """The match's rows and outcome records, from every host's parts in the store."""
    store = open_store(out, stores)
    if store is None:
        return
    try:
        n = store.erase({match_id}, apply=True)
    except (OSError, ValueError) as exc:
        out.fail(f"The log store {store}: match {match_id} could not be erased ({exc}); run again.")
        return
    if n:
        out.say(f"Removed {n:,} row(s) and outcome record(s) of match {match_id} from the log store {store}.")
