'use strict';
// Settings from the environment, checked once at start.

const { dbPathFrom, unstoredPathFrom } = require('./db');

function intFrom(env, name, fallback, min, max) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

// RFC 6750's token characters; at least 16 of them (e.g. `openssl rand -hex 32`).
const TOKEN_RE = /^[A-Za-z0-9\-._~+/]{16,}=*$/;

/** OUTCOMES_TOKEN: the bearer token intake workers send to POST /api/outcomes; unset: recording is off. */
function tokenFrom(env, name) {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!TOKEN_RE.test(raw)) {
    throw new Error(`${name} must be at least 16 characters from A-Z a-z 0-9 - . _ ~ + / (e.g. openssl rand -hex 32)`);
  }
  return raw;
}

// The help line a client is given when matching is unavailable (and on the page whenever our service
// does not answer). The default is a placeholder in the range kept for fiction (555-01xx), like the
// directory's own numbers: set HELPLINE_PHONE to the organisation's real line in production.
const DEFAULT_HELPLINE_PHONE = '+1 800-555-0199';
// The same rule as a lawyer's phone (migration 005), so the page can make it a tel: link.
const PHONE_RE = /^[0-9 +().-]{7,32}$/;

/** HELPLINE_PHONE as { phone }; refuses anything the page could not dial. */
function helplineFrom(env = process.env) {
  const raw = env.HELPLINE_PHONE;
  if (raw === undefined || raw === '') return Object.freeze({ phone: DEFAULT_HELPLINE_PHONE });
  const phone = raw.trim();
  if (!PHONE_RE.test(phone) || phone.replace(/\D/g, '').length < 5) {
    throw new Error(`HELPLINE_PHONE must be 7 to 32 characters of digits, spaces and + ( ) - ., at least 5 of them digits (e.g. "+1 800-555-0199"), got ${JSON.stringify(raw)}`);
  }
  return Object.freeze({ phone });
}

function loadConfig(env = process.env) {
  return {
    host: env.HOST || '127.0.0.1',
    port: intFrom(env, 'PORT', 5000, 0, 65535),
    mlServiceUrl: env.ML_SERVICE_URL || 'http://127.0.0.1:8000',
    mlTimeoutMs: intFrom(env, 'ML_TIMEOUT_MS', 2000, 1, 60000),
    dbPath: dbPathFrom(env), // backend/var/lawyers.db; a relative DB_PATH is from backend/
    bodyLimit: env.BODY_LIMIT || '16kb',
    outcomesToken: tokenFrom(env, 'OUTCOMES_TOKEN'),
    // A statement waits this long for another connection's write lock, blocking the event loop
    // meanwhile (better-sqlite3 is synchronous); then the request retries asynchronously,
    // dbBusyRetries times, dbBusyRetryDelayMs apart (doubling), and finally answers 503 with
    // Retry-After: dbBusyRetryAfterS.
    dbBusyTimeoutMs: intFrom(env, 'DB_BUSY_TIMEOUT_MS', 5, 0, 50),
    dbBusyRetries: intFrom(env, 'DB_BUSY_RETRIES', 3, 0, 10),
    dbBusyRetryDelayMs: intFrom(env, 'DB_BUSY_RETRY_DELAY_MS', 25, 1, 1000),
    dbBusyRetryAfterS: intFrom(env, 'DB_BUSY_RETRY_AFTER_S', 1, 1, 3600),
    // Matches the service scored that could not be stored (lib/unstored.js); beside the database.
    unstoredPath: unstoredPathFrom(env),
    helpline: helplineFrom(env),
  };
}

module.exports = { loadConfig, helplineFrom, DEFAULT_HELPLINE_PHONE };
