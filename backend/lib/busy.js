'use strict';
// A database another connection is writing to. better-sqlite3 is synchronous: while SQLite waits
// for a lock (busy_timeout) Node's event loop waits with it, so the busy timeout stays at a few ms
// (lib/db.js) and the waiting happens here instead, between attempts, on timers that leave the
// event loop free. After the last attempt the API answers 503 with Retry-After.

/** SQLITE_BUSY (another connection holds the lock) or SQLITE_LOCKED, with any extended code. */
function isBusy(err) {
  return Boolean(err && typeof err.code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(err.code));
}

/** The database stayed busy through every attempt; the API answers 503 + Retry-After. */
class DatabaseBusyError extends Error {
  constructor(cause) {
    super('the database is busy');
    this.name = 'DatabaseBusyError';
    this.cause = cause;
  }
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/**
 * Run fn (a synchronous database call, e.g. a better-sqlite3 transaction, which rolls back
 * entirely when it fails) and, while it fails with SQLITE_BUSY, run it again up to `retries` more
 * times, waiting delayMs, 2 x delayMs, 4 x delayMs ... in between. Returns fn's result; throws
 * DatabaseBusyError when every attempt was busy, and any other error at once.
 * onRetry(attempt, err) is told about each retry (for tests and logs).
 */
async function retryBusy(fn, { retries = 3, delayMs = 25, onRetry } = {}) {
  for (let attempt = 0; ; attempt++) {
    try {
      return fn();
    } catch (err) {
      if (!isBusy(err)) throw err;
      if (attempt >= retries) throw new DatabaseBusyError(err);
      if (onRetry) onRetry(attempt + 1, err);
      await sleep(delayMs * 2 ** attempt);
    }
  }
}

module.exports = { isBusy, retryBusy, DatabaseBusyError };
