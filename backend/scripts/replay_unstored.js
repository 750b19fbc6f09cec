#!/usr/bin/env node
'use strict';
// Store the matches of the unstored-matches file (lib/unstored.js) that can now be stored, and
// keep the others in the file. Idempotent: run it as often as you like, also while the backend
// runs; a match already stored exactly so is dropped from the file, never stored twice.
//
// Usage: npm run replay-unstored -- [--db PATH] [--file PATH]
//   --db PATH    the SQLite database (default: the server's, DB_PATH or var/lawyers.db); it must
//                exist and be migrated (the backend has run on it)
//   --file PATH  the unstored matches (default: UNSTORED_MATCHES_PATH, else
//                unstored_matches.jsonl beside the database)
// Relative paths are from the folder you ran npm in. Prints one line per match kept (with why)
// and a count. Exit 0 nothing is left in the file, 1 some matches were kept (or the database
// cannot be used), 2 bad arguments or another replay is running.

const fs = require('node:fs');
const path = require('node:path');
const Database = require('better-sqlite3');
const { loadConfig } = require('../lib/config');
const { unstoredPathFrom } = require('../lib/db');
const { createOutcomeStore } = require('../lib/outcomes');
const { replayUnstored } = require('../lib/unstored');

const USAGE = 'usage: npm run replay-unstored -- [--db PATH] [--file PATH]';
// A command line may wait for the backend's short transactions (it blocks nobody but itself).
const BUSY_TIMEOUT_MS = 5000;

class UsageError extends Error {}

function baseDir(env = process.env) {
  return env.npm_lifecycle_event === 'replay-unstored' && env.INIT_CWD ? env.INIT_CWD : process.cwd();
}

function parseArgs(argv, env = process.env) {
  const opts = {};
  const names = { '--db': 'db', '--file': 'file' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return { help: true };
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const key = names[flag];
    if (!key) throw new UsageError(`${arg}: unknown argument`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '' || (eq < 0 && value.startsWith('--'))) throw new UsageError(`${flag}: needs a value`);
    if (opts[key] !== undefined) throw new UsageError(`${flag}: given twice`);
    opts[key] = value;
  }
  const base = baseDir(env);
  let config;
  try { config = loadConfig(env); } catch (err) { throw new UsageError(err.message); }
  const db = opts.db !== undefined ? path.resolve(base, opts.db) : config.dbPath;
  if (!fs.existsSync(db) || !fs.statSync(db).isFile()) {
    throw new UsageError(opts.db !== undefined ? `--db: no database at ${db}`
      : `--db: not given, and there is no database at the server's path ${db} (DB_PATH, default var/lawyers.db)`);
  }
  const file = opts.file !== undefined ? path.resolve(base, opts.file)
    : (env.UNSTORED_MATCHES_PATH ? config.unstoredPath : unstoredPathFrom({}, db));
  return { db, file };
}

function main(argv = process.argv.slice(2)) {
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`replay-unstored: ${err.message}\n${USAGE}\n`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const claimedAny = fs.existsSync(opts.file) || (fs.existsSync(path.dirname(opts.file)) &&
    fs.readdirSync(path.dirname(opts.file)).some((f) => f.startsWith(`${path.basename(opts.file)}.replay-`)));
  if (!claimedAny) {
    process.stderr.write(`nothing to replay: ${opts.file} does not exist\n`);
    return 0;
  }
  let db;
  try {
    db = new Database(opts.db, { fileMustExist: true });
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('foreign_keys = ON');
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'match_lawyers'").pluck().get();
    if (!hasTable) throw new Error(`${opts.db} has no matches table (start the backend once to migrate it)`);
  } catch (err) {
    if (db) db.close();
    process.stderr.write(`replay-unstored: ${err.message}\n`);
    return 1;
  }
  try {
    let result;
    try {
      result = replayUnstored({ file: opts.file, store: createOutcomeStore(db) });
    } catch (err) {
      process.stderr.write(`replay-unstored: ${err.message}\n`);
      return /another replay/.test(err.message) ? 2 : 1;
    }
    for (const k of result.kept) {
      process.stderr.write(`kept ${k.match_id ?? '(no match_id)'} (${k.line}): ${k.reason}\n`);
    }
    process.stderr.write(`stored ${result.stored}, already stored ${result.already}, kept ${result.kept.length}` +
      `${result.kept.length ? ` in ${opts.file}` : ''}\n`);
    return result.kept.length ? 1 : 0;
  } finally {
    db.close();
  }
}

if (require.main === module) process.exitCode = main();

module.exports = { parseArgs, main };
