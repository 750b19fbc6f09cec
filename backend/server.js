'use strict';
// LegalAid Connect backend: `npm start`. Env: HOST (127.0.0.1), PORT (5000),
// ML_SERVICE_URL (http://127.0.0.1:8000), ML_TIMEOUT_MS (2000), DB_PATH (var/lawyers.db), BODY_LIMIT (16kb),
// OUTCOMES_TOKEN (unset: POST /api/outcomes answers 503), DB_BUSY_TIMEOUT_MS (5), DB_BUSY_RETRIES (3),
// DB_BUSY_RETRY_DELAY_MS (25), DB_BUSY_RETRY_AFTER_S (1), UNSTORED_MATCHES_PATH (beside the database).
// See README.md.

const { loadConfig } = require('./lib/config');
const { openDirectory } = require('./lib/db');
const { createMatchClient } = require('./lib/matchService');
const { createApp } = require('./lib/app');

function start(config = loadConfig()) {
  const directory = openDirectory(config.dbPath, { busyTimeoutMs: config.dbBusyTimeoutMs });
  for (const warning of directory.warnings) console.error(`warning: ${warning}`);
  const matchClient = createMatchClient({ baseUrl: config.mlServiceUrl, timeoutMs: config.mlTimeoutMs });
  const app = createApp({
    directory, matchClient, bodyLimit: config.bodyLimit, outcomesToken: config.outcomesToken,
    busy: { retries: config.dbBusyRetries, delayMs: config.dbBusyRetryDelayMs, retryAfterS: config.dbBusyRetryAfterS },
    unstoredPath: config.unstoredPath,
  });
  const server = app.listen(config.port, config.host);
  server.keepAliveTimeout = 5000;
  server.requestTimeout = 30000;
  server.on('listening', () => {
    const { address, port } = server.address();
    const migrated = directory.migrated.length ? `, applied migrations ${directory.migrated.join(', ')}` : '';
    const seeded = directory.seeded ? `, seeded ${directory.seeded} lawyers` : '';
    console.log(`LegalAid Connect backend on http://${address}:${port} (db ${directory.path}${migrated}${seeded}; ` +
      `match service ${matchClient.baseUrl}, timeout ${matchClient.timeoutMs} ms; ` +
      `outcome recording ${config.outcomesToken ? 'on' : 'off (set OUTCOMES_TOKEN)'})`);
  });
  server.on('error', (err) => {
    console.error(`cannot listen on ${config.host}:${config.port}: ${err.message}`);
    directory.close();
    process.exitCode = 1;
  });
  return { server, directory };
}

if (require.main === module) {
  // Everything this process creates (the database, its -wal and -shm, the unstored-matches file)
  // is its owner's alone from the start, whatever the shell's umask. The code also opens those
  // files 0600 itself; this covers anything it does not name.
  process.umask(0o077);
  let running;
  try {
    running = start();
  } catch (err) {
    console.error(`backend failed to start: ${err.message}`);
    process.exit(1);
  }
  const stop = (signal) => {
    console.log(`${signal}: shutting down`);
    running.server.close(() => { running.directory.close(); process.exit(0); });
    running.server.closeIdleConnections();
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

module.exports = { start };
