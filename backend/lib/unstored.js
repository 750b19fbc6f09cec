'use strict';
// Matches the match service scored but the backend could not store (the database stayed busy, a
// disk error, a prediction_id already used ...). The client was answered 503 and retries, which
// makes a new prediction; this file accounts for the old one, so the service's prediction log
// never holds a prediction the backend lost without a word.
//
// One JSON line per match, appended to UNSTORED_MATCHES_PATH (default unstored_matches.jsonl
// beside the database), a 0600 file in a 0700 folder:
//   {"logged_at", "match_id", "model_version", "created_at", "reason", "error",
//    "lawyers": [{"lawyer_id", "rank", "match_probability"}]}
// It holds what the backend would have stored (the shown lawyers), never the client's case.
// `npm run replay-unstored` (scripts/replay_unstored.js, replayUnstored below) stores what it can.

const fs = require('node:fs');
const path = require('node:path');
const { makePrivateDir, PRIVATE_FILE_MODE } = require('./db');

const LINE_KEYS = Object.freeze(['created_at', 'error', 'lawyers', 'logged_at', 'match_id', 'model_version', 'reason']);
const MATCH_ID_RE = /^[0-9a-f]{32}$/;

/**
 * The appender the API uses. write() never throws: if the file cannot be written either, the line
 * goes to the server log instead (it holds no case field), so the match is still on record.
 */
function createUnstoredLog(file, { log = (l) => console.error(l) } = {}) {
  return {
    path: file,
    /** entry: { match_id, model_version, created_at, reason, error, lawyers } */
    write(entry) {
      const line = JSON.stringify({ logged_at: new Date().toISOString(), ...entry });
      try {
        makePrivateDir(path.dirname(file));
        // O_APPEND: one write per line, so lines from one process never interleave; created 0600.
        fs.appendFileSync(file, `${line}\n`, { mode: PRIVATE_FILE_MODE });
        log(`match ${entry.match_id} (model ${entry.model_version}) was not stored (${entry.reason}: ${entry.error}); ` +
          `kept in ${file} for npm run replay-unstored`);
        return true;
      } catch (err) {
        log(`match ${entry.match_id} was not stored (${entry.reason}) and ${file} cannot be written (${err.message}); ` +
          `the unstored match: ${line}`);
        return false;
      }
    },
  };
}

/** The entry's problem, or null if it is a well-formed unstored match. */
function invalidEntry(e) {
  if (!e || typeof e !== 'object' || Array.isArray(e)) return 'not a JSON object';
  if (typeof e.match_id !== 'string' || !MATCH_ID_RE.test(e.match_id)) return 'match_id is not 32 lowercase hex characters';
  if (typeof e.model_version !== 'string' || e.model_version === '') return 'model_version is missing';
  if (typeof e.created_at !== 'string' || Number.isNaN(Date.parse(e.created_at))) return 'created_at is not a time';
  if (!Array.isArray(e.lawyers)) return 'lawyers is not a list';
  const ranks = e.lawyers.map((l) => (l && typeof l === 'object' ? l.rank : undefined));
  for (const [i, l] of e.lawyers.entries()) {
    if (!l || typeof l !== 'object') return `lawyers[${i}] is not an object`;
    if (!Number.isSafeInteger(l.lawyer_id) || l.lawyer_id < 1) return `lawyers[${i}].lawyer_id is not a positive integer`;
    if (typeof l.match_probability !== 'number' || !(l.match_probability >= 0 && l.match_probability <= 1)) {
      return `lawyers[${i}].match_probability is not a probability`;
    }
  }
  const sorted = [...ranks].sort((a, b) => a - b);
  if (!sorted.every((r, i) => r === i + 1)) return 'lawyers\' ranks are not 1, 2, 3 ...';
  return null;
}

/** Whether the stored match is exactly this entry (then a replay has nothing to do). */
function sameMatch(stored, entry) {
  if (stored.model_version !== entry.model_version) return false;
  const want = [...entry.lawyers].sort((a, b) => a.rank - b.rank);
  return stored.lawyers.length === want.length && stored.lawyers.every((l, i) => l.lawyer_id === want[i].lawyer_id &&
    l.rank === want[i].rank && l.match_probability === want[i].match_probability);
}

const alive = (pid) => {
  try { process.kill(pid, 0); return true; } catch (err) { return err.code === 'EPERM'; }
};

/** Take `${file}.lock` (0600, holding our pid); a lock whose process is gone is taken over. */
function takeLock(file) {
  const lock = `${file}.lock`;
  for (let tries = 0; tries < 3; tries++) {
    try {
      const fd = fs.openSync(lock, 'wx', PRIVATE_FILE_MODE);
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      return () => fs.rmSync(lock, { force: true });
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const pid = Number.parseInt(fs.readFileSync(lock, 'utf8'), 10);
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new Error(`another replay (pid ${pid}) holds ${lock}`);
      }
      fs.rmSync(lock, { force: true }); // left by a replay that died
    }
  }
  throw new Error(`cannot take ${lock}`);
}

/**
 * Store every match of `file` that can be stored, through `store` (lib/outcomes.js), and keep
 * the others in `file`. Idempotent: a match already stored exactly so is dropped from the file; one
 * stored under the same match_id with other lawyers (a repeated prediction_id) is kept, as is a
 * line that does not parse. Safe while the backend appends: the file is first renamed aside
 * (`<file>.replay-<pid>`; one left by a replay that died is picked up too), and what is kept is
 * appended back to `file`. Returns { stored, already, kept: [{ match_id, line, reason }] }.
 */
function replayUnstored({ file, store }) {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const release = takeLock(file);
  try {
    try {
      fs.renameSync(file, path.join(dir, `${base}.replay-${process.pid}`));
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
    }
    const claimed = fs.readdirSync(dir).filter((f) => f.startsWith(`${base}.replay-`)).sort().map((f) => path.join(dir, f));
    const result = { stored: 0, already: 0, kept: [] };
    const keep = [];
    const seen = new Set();
    let busy = null;
    for (const claim of claimed) {
      const lines = fs.readFileSync(claim, 'utf8').split('\n');
      lines.forEach((text, i) => {
        if (text.trim() === '' || seen.has(text)) return;
        seen.add(text);
        const where = `${path.basename(claim)} line ${i + 1}`;
        const hold = (reason, matchId = null) => {
          keep.push(text);
          result.kept.push({ match_id: matchId, line: where, reason });
        };
        let entry;
        try { entry = JSON.parse(text); } catch { return hold('not JSON'); }
        const bad = invalidEntry(entry);
        if (bad) return hold(bad, typeof entry?.match_id === 'string' ? entry.match_id : null);
        if (busy) return hold(`not tried: the database is busy (${busy})`, entry.match_id);
        try {
          const stored = store.getMatch(entry.match_id);
          if (stored) {
            if (sameMatch(stored, entry)) { result.already += 1; return undefined; }
            return hold('conflict: this match_id is stored with other lawyers or another model version', entry.match_id);
          }
          const shown = [...entry.lawyers].sort((a, b) => a.rank - b.rank)
            .map((l) => ({ lawyer_id: l.lawyer_id, match_probability: l.match_probability }));
          store.recordMatch(entry.match_id, entry.model_version, shown, entry.created_at);
          result.stored += 1;
        } catch (err) {
          if (err && typeof err.code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(err.code)) busy = err.message;
          return hold(`not stored: ${err.message}`, entry.match_id);
        }
        return undefined;
      });
    }
    if (keep.length > 0) {
      makePrivateDir(dir);
      fs.appendFileSync(file, keep.map((t) => `${t}\n`).join(''), { mode: PRIVATE_FILE_MODE });
    }
    for (const claim of claimed) fs.rmSync(claim, { force: true });
    return result;
  } finally {
    release();
  }
}

module.exports = { createUnstoredLog, replayUnstored, invalidEntry, LINE_KEYS };
