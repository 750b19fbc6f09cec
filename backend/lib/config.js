'use strict';
// Settings from the environment, checked once at start.

function intFrom(env, name, fallback, min, max) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function loadConfig(env = process.env) {
  return {
    host: env.HOST || '127.0.0.1',
    port: intFrom(env, 'PORT', 5000, 0, 65535),
    mlServiceUrl: env.ML_SERVICE_URL || 'http://127.0.0.1:8000',
    mlTimeoutMs: intFrom(env, 'ML_TIMEOUT_MS', 2000, 1, 60000),
    dbPath: env.DB_PATH || undefined, // undefined: lib/db.js's default, backend/var/lawyers.db
    bodyLimit: env.BODY_LIMIT || '16kb',
  };
}

module.exports = { loadConfig };
