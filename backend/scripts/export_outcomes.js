#!/usr/bin/env node
'use strict';
// Export the recorded outcomes as training labels, JSON Lines, one outcome per line:
//   {"match_id","lawyer_id","outcome","label","occurred_at","recorded_at","model_version"}
// oldest recorded first. The match_id is the match service's prediction_id, so each line joins
// the service's prediction log (prediction_id, lawyer_id) for the features the model saw.
//
// Usage: npm run export-outcomes -- [--out FILE] [--db PATH] [--since ISO]
//   --out FILE   where to write (the folder must exist). Default:
//                $OUTCOME_EXPORT_DIR/outcomes-<UTC yyyymmddThhmmssZ>.jsonl, the folder
//                (default backend/var/exports) created 0700 if needed. Written 0600 to a temporary
//                file in the same folder, then renamed: readers never see half a file. An existing
//                FILE is replaced only if it is an earlier export (or empty); never the database,
//                its -wal/-shm/-journal, a link to them, or any other file (exit 2, nothing written)
//   --db PATH    the SQLite database (default: the server's, DB_PATH or var/lawyers.db); it must
//                exist, and is opened read-only
//   --since ISO  only outcomes recorded (or corrected) at or after this time, e.g.
//                2026-03-01T00:00:00Z or 2026-03-01 (UTC midnight): for incremental exports
// Relative --out and --db are from the folder you ran npm in. Exit 0 done (a one-line count on
// stderr), 1 the database cannot be read, 2 bad arguments or a refused --out.

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const Database = require('better-sqlite3');
const { loadConfig } = require('../lib/config');
const { exportDirFrom, makePrivateDir, PRIVATE_FILE_MODE } = require('../lib/db');
const { OUTCOMES } = require('../lib/vocab');
const { parseIsoTime } = require('../lib/validate');

const USAGE = 'usage: npm run export-outcomes -- [--out FILE] [--db PATH] [--since ISO]';

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
  const base = baseDir(env);

  let db;
  if (opts.db !== undefined) {
    db = path.resolve(base, opts.db);
  } else {
    let config;
    try { config = loadConfig(env); } catch (err) { throw new UsageError(err.message); }
    db = config.dbPath;
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

  let out;
  let outDir = null; // the default folder, created when the export is written
  if (opts.out !== undefined) {
    out = path.resolve(base, opts.out);
    if (!fs.existsSync(path.dirname(out)) || !fs.statSync(path.dirname(out)).isDirectory()) {
      throw new UsageError(`--out: folder ${path.dirname(out)} does not exist`);
    }
    if (fs.existsSync(out) && fs.statSync(out).isDirectory()) throw new UsageError(`--out: ${out} is a folder`);
  } else {
    outDir = exportDirFrom(env);
    out = defaultOut(outDir);
  }
  const refused = refusal(out, db);
  if (refused) {
    throw new UsageError(`--out: refusing to write onto ${out}: ${refused}; nothing was written. ` +
      `Choose another --out, or leave --out out for a new file in ${exportDirFrom(env)} (OUTCOME_EXPORT_DIR)`);
  }
  return { out, outDir, db, since };
}

/** The default export file: outcomes-<UTC yyyymmddThhmmssZ>.jsonl in dir, -2, -3 ... if taken. */
function defaultOut(dir, now = new Date()) {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  for (let n = 1; ; n++) {
    const file = path.join(dir, `outcomes-${stamp}${n === 1 ? '' : `-${n}`}.jsonl`);
    if (!fs.existsSync(file)) return file;
  }
}

const EXPORT_KEYS = Object.freeze(['match_id', 'lawyer_id', 'outcome', 'label', 'occurred_at', 'recorded_at', 'model_version']);
const EXPORT_KEY_SET = [...EXPORT_KEYS].sort().join(',');
const SQLITE_MAGIC = 'SQLite format 3\0';
const EDGE_BYTES = 64 * 1024; // a line is about 200 bytes: the first and the last line fit easily

/** Why `text` is not a line this script writes, or null if it is one. */
function notAnExportLine(text) {
  let r;
  try { r = JSON.parse(text); } catch { return 'is not JSON'; }
  if (!r || typeof r !== 'object' || Array.isArray(r)) return 'is not a JSON object';
  if (Object.keys(r).sort().join(',') !== EXPORT_KEY_SET) return `does not have exactly the keys ${EXPORT_KEYS.join(', ')}`;
  if (typeof r.match_id !== 'string' || !/^[0-9a-f]{32}$/.test(r.match_id) || !Number.isSafeInteger(r.lawyer_id) ||
      !OUTCOMES.includes(r.outcome) || (r.label !== 0 && r.label !== 1) || typeof r.occurred_at !== 'string' ||
      typeof r.recorded_at !== 'string' || typeof r.model_version !== 'string') {
    return 'has a value of the wrong kind';
  }
  return null;
}

/**
 * Why the export must not replace `out`, or null if it may: out does not exist, or is an empty
 * regular file, or an earlier export (its first and last lines are export records and it ends
 * with a newline: cheap however big the file). Never the database, its -wal/-shm/-journal or a
 * link to any of them (same file), whatever they contain.
 */
function refusal(out, dbPath) {
  let st;
  try {
    st = fs.statSync(out); // follows a symbolic link: its target is what matters
  } catch (err) {
    if (err.code === 'ENOENT') {
      const isLink = (() => { try { return fs.lstatSync(out).isSymbolicLink(); } catch { return false; } })();
      return isLink ? 'it is a symbolic link to a file that does not exist' : null;
    }
    return `cannot inspect it (${err.message})`;
  }
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    let dbSt;
    try { dbSt = fs.statSync(dbPath + suffix); } catch { continue; }
    if (dbSt.dev === st.dev && dbSt.ino === st.ino) {
      return suffix === '' ? `it is the database being exported (${dbPath})`
        : `it is the database's ${suffix.slice(1)} file (${dbPath}${suffix})`;
    }
  }
  if (!st.isFile()) return 'it is not a regular file';
  if (st.size === 0) return null;
  const fd = fs.openSync(out, 'r');
  try {
    const headLen = Math.min(st.size, EDGE_BYTES);
    const head = Buffer.alloc(headLen);
    fs.readSync(fd, head, 0, headLen, 0);
    if (head.subarray(0, 16).toString('latin1') === SQLITE_MAGIC) return 'it is an SQLite database';
    const tailLen = Math.min(st.size, EDGE_BYTES);
    const tail = Buffer.alloc(tailLen);
    fs.readSync(fd, tail, 0, tailLen, st.size - tailLen);
    const existing = `it exists and is not an earlier export of outcomes`;
    if (tail[tail.length - 1] !== 0x0a) return `${existing} (it does not end with a newline)`;
    const headText = head.toString('utf8');
    const firstEnd = headText.indexOf('\n');
    if (firstEnd < 0) return `${existing} (its first line is longer than ${EDGE_BYTES} bytes)`;
    const firstWhy = notAnExportLine(headText.slice(0, firstEnd));
    if (firstWhy) return `${existing} (line 1 ${firstWhy})`;
    const tailText = tail.subarray(0, tail.length - 1).toString('utf8');
    const lastStart = tailText.lastIndexOf('\n');
    if (lastStart < 0 && tailLen < st.size) return `${existing} (its last line is longer than ${EDGE_BYTES} bytes)`;
    const lastWhy = notAnExportLine(tailText.slice(lastStart + 1));
    if (lastWhy) return `${existing} (its last line ${lastWhy})`;
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** Write the outcomes to `out` atomically; returns how many were written. */
function exportOutcomes({ out, outDir = null, db: dbPath, since }) {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  if (outDir) makePrivateDir(outDir);
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
    fd = fs.openSync(tmp, 'wx', PRIVATE_FILE_MODE); // 0600 from its creation; the rename keeps it
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

module.exports = { parseArgs, exportOutcomes, refusal, defaultOut, main, EXPORT_KEYS };
