#!/usr/bin/env node
'use strict';
// Export the recorded outcomes as training labels, JSON Lines, one outcome per line:
//   {"match_id","lawyer_id","outcome","label","occurred_at","recorded_at","model_version"}
// oldest recorded first. The match_id is the match service's prediction_id, so each line joins
// the service's prediction log (prediction_id, lawyer_id) for the features the model saw.
//
// Usage: npm run export-outcomes -- --out FILE [--db PATH] [--since ISO]
//   --out FILE   where to write (the folder must exist); written to a temporary file in the same
//                folder, then renamed: readers never see half a file
//   --db PATH    the SQLite database (default: the server's, DB_PATH or var/lawyers.db); it must
//                exist, and is opened read-only
//   --since ISO  only outcomes recorded (or corrected) at or after this time, e.g.
//                2026-03-01T00:00:00Z or 2026-03-01 (UTC midnight): for incremental exports
// Relative paths are from the folder you ran npm in. Exit 0 done (a one-line count on stderr),
// 1 the database cannot be read, 2 bad arguments.

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const Database = require('better-sqlite3');
const { loadConfig } = require('../lib/config');
const { DEFAULT_DB_PATH } = require('../lib/db');
const { parseIsoTime } = require('../lib/validate');

const USAGE = 'usage: npm run export-outcomes -- --out FILE [--db PATH] [--since ISO]';

class UsageError extends Error {}

/** The folder relative paths are taken from: where `npm run` was typed, else the working folder. */
function baseDir(env = process.env) {
  return env.npm_lifecycle_event === 'export-outcomes' && env.INIT_CWD ? env.INIT_CWD : process.cwd();
}

function parseArgs(argv, env = process.env) {
  const opts = {};
  const names = { '--out': 'out', '--db': 'db', '--since': 'since' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return { help: true };
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const key = names[flag];
    if (!key) throw new UsageError(`${arg}: unknown argument`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '' || (eq < 0 && value.startsWith('--'))) {
      throw new UsageError(`${flag}: needs a value`);
    }
    if (opts[key] !== undefined) throw new UsageError(`${flag}: given twice`);
    opts[key] = value;
  }
  if (opts.out === undefined) throw new UsageError('--out: is required');
  const base = baseDir(env);
  const out = path.resolve(base, opts.out);
  if (!fs.existsSync(path.dirname(out)) || !fs.statSync(path.dirname(out)).isDirectory()) {
    throw new UsageError(`--out: folder ${path.dirname(out)} does not exist`);
  }
  if (fs.existsSync(out) && fs.statSync(out).isDirectory()) throw new UsageError(`--out: ${out} is a folder`);

  let db;
  if (opts.db !== undefined) {
    db = path.resolve(base, opts.db);
  } else {
    let config;
    try { config = loadConfig(env); } catch (err) { throw new UsageError(err.message); }
    db = config.dbPath ? path.resolve(config.dbPath) : DEFAULT_DB_PATH;
  }
  if (!fs.existsSync(db) || !fs.statSync(db).isFile()) {
    throw new UsageError(opts.db !== undefined ? `--db: no database at ${db}`
      : `--db: not given, and there is no database at the server's path ${db} (DB_PATH, default var/lawyers.db)`);
  }

  let since = null;
  if (opts.since !== undefined) {
    const ms = parseIsoTime(opts.since, { allowDate: true });
    if (ms === null) throw new UsageError(`--since: ${JSON.stringify(opts.since)} is not an ISO 8601 time (e.g. 2026-03-01T00:00:00Z)`);
    since = new Date(ms).toISOString();
  }
  return { out, db, since };
}

/** Write the outcomes to `out` atomically; returns how many were written. */
function exportOutcomes({ out, db: dbPath, since }) {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  let fd = null;
  try {
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outcomes'").pluck().get();
    if (!hasTable) throw new Error(`${dbPath} has no outcomes table (start the backend once to migrate it)`);
    // Recorded times are toISOString() text, so text order is time order.
    const rows = db.prepare(`SELECT o.match_id, o.lawyer_id, o.outcome, o.label, o.occurred_at, o.recorded_at, m.model_version
      FROM outcomes o JOIN matches m ON m.match_id = o.match_id
      WHERE @since IS NULL OR o.recorded_at >= @since
      ORDER BY o.recorded_at, o.match_id, o.lawyer_id`);
    fd = fs.openSync(tmp, 'wx', 0o644);
    let count = 0;
    let chunk = '';
    for (const r of rows.iterate({ since })) {
      chunk += `${JSON.stringify({
        match_id: r.match_id,
        lawyer_id: r.lawyer_id,
        outcome: r.outcome,
        label: r.label,
        occurred_at: r.occurred_at,
        recorded_at: r.recorded_at,
        model_version: r.model_version,
      })}\n`;
      count += 1;
      if (chunk.length >= 1 << 16) { fs.writeSync(fd, chunk); chunk = ''; }
    }
    if (chunk) fs.writeSync(fd, chunk);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
    fs.renameSync(tmp, out);
    return count;
  } catch (err) {
    if (fd !== null) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  } finally {
    db.close();
  }
}

function main(argv = process.argv.slice(2)) {
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`export-outcomes: ${err.message}\n${USAGE}\n`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    const count = exportOutcomes(opts);
    process.stderr.write(`exported ${count} outcome${count === 1 ? '' : 's'} to ${opts.out}` +
      `${opts.since ? ` (recorded since ${opts.since})` : ''}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`export-outcomes: ${err.message}\n`);
    return 1;
  }
}

if (require.main === module) process.exitCode = main();

module.exports = { parseArgs, exportOutcomes, main };
