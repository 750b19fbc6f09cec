// A busy database (another connection holds the write lock: a backup, an erasure, a long export):
// 503 with Retry-After, never a 500, and the server keeps answering meanwhile. A match the service
// scored but the backend could not store goes to the unstored-matches file, which
// `npm run replay-unstored` stores later. Real SQLite; a tiny local server plays the match service.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BACKEND, backendRequire, startBackend, startFakeService, api, tempDir, CASE } from './helpers.mjs';

const Database = backendRequire('better-sqlite3');
const { retryBusy, isBusy, DatabaseBusyError } = backendRequire('./lib/busy.js');
const { LINE_KEYS } = backendRequire('./lib/unstored.js');

const TOKEN = 'busy-test-token-0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const RETRY_AFTER_S = 7;

/**
 * A stand-in for the match service: ranks the first three candidates it is sent, each answer with
 * a new prediction_id (kept in `ids`, newest last), so every match can be told apart.
 */
async function rankingService() {
  const ids = [];
  const fake = await startFakeService((req, res, body) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.url === '/health') return res.end('{"status": "ok", "model_version": "fake-busy"}');
    const { lawyers } = JSON.parse(body);
    const id = crypto.randomBytes(16).toString('hex');
    ids.push(id);
    return res.end(JSON.stringify({
      model_version: 'fake-busy',
      prediction_id: id,
      ranking: lawyers.slice(0, 3).map((l, i) => ({ lawyer_id: l.lawyer_id, match_probability: 0.9 - i / 10 })),
    }));
  });
  return { ...fake, ids };
}

const readLines = (file) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

function assertBusy503(res) {
  assert.equal(res.status, 503, JSON.stringify(res.body));
  assert.equal(res.headers.get('retry-after'), String(RETRY_AFTER_S));
  assert.match(res.headers.get('content-type'), /application\/json/);
  assert.deepEqual(res.body, { error: 'the database is busy; please try again shortly', reason: 'database_busy' });
}

describe('retryBusy', () => {
  const busyError = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });

  test('retries while SQLITE_BUSY, returns the first success', async () => {
    let calls = 0;
    const seen = [];
    const got = await retryBusy(() => { calls += 1; if (calls < 3) throw busyError(); return 'done'; },
      { retries: 3, delayMs: 1, onRetry: (n) => seen.push(n) });
    assert.equal(got, 'done');
    assert.equal(calls, 3);
    assert.deepEqual(seen, [1, 2]);
  });

  test('gives up after the retries with DatabaseBusyError; any other error is thrown at once', async () => {
    let calls = 0;
    await assert.rejects(retryBusy(() => { calls += 1; throw busyError(); }, { retries: 2, delayMs: 1 }), DatabaseBusyError);
    assert.equal(calls, 3, 'the first attempt and 2 retries');
    calls = 0;
    await assert.rejects(retryBusy(() => { calls += 1; throw new Error('no such table'); }, { retries: 2, delayMs: 1 }), /no such table/);
    assert.equal(calls, 1);
    assert.ok(isBusy({ code: 'SQLITE_BUSY_SNAPSHOT' }) && isBusy({ code: 'SQLITE_LOCKED' }) && !isBusy({ code: 'SQLITE_FULL' }));
  });
});

describe('another connection holds the write lock', () => {
  let fake;
  let backend;
  let dir;
  let dbPath;
  let unstoredPath;
  let other;     // the second connection, holding BEGIN IMMEDIATE when a test says so
  let onRetry = null;

  before(async () => {
    fake = await rankingService();
    dir = tempDir('legalaid-busy-');
    dbPath = path.join(dir, 'lawyers.db');
    unstoredPath = path.join(dir, 'unstored_matches.jsonl');
    backend = await startBackend({
      mlUrl: fake.url, dbPath, outcomesToken: TOKEN,
      busy: { retries: 2, delayMs: 5, retryAfterS: RETRY_AFTER_S, onRetry: (...a) => onRetry?.(...a) },
    });
    other = new Database(dbPath);
  });

  after(async () => {
    if (other?.inTransaction) other.exec('ROLLBACK');
    other?.close();
    await backend?.close();
    await fake?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const match = (json = { ...CASE, limit: 3 }) => api(backend.url, '/api/match', { method: 'POST', json });
  const record = (json) => api(backend.url, '/api/outcomes', { method: 'POST', json, headers: AUTH });
  const count = (sql, ...p) => backend.directory.db.prepare(sql).pluck().get(...p);

  test('/api/match and /api/outcomes answer 503 + Retry-After, /api/health and reads answer meanwhile; the unstored match is logged', async () => {
    const first = await match();
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const pair = { match_id: first.body.match_id, lawyer_id: first.body.lawyers[0].id };
    const matchesBefore = count('SELECT COUNT(*) FROM matches');

    other.exec('BEGIN IMMEDIATE');
    try {
      const [busyMatch, busyOutcome, health, lawyers] = await Promise.all([
        match({ ...CASE, client_income: 31337.77, limit: 3 }),
        record({ ...pair, outcome: 'engaged' }),
        api(backend.url, '/api/health'),
        api(backend.url, '/api/lawyers?limit=2'),
      ]);
      assertBusy503(busyMatch);
      assertBusy503(busyOutcome);
      assert.equal(health.status, 200, 'the server answers while the writes wait');
      assert.equal(health.body.lawyers, 200);
      assert.equal(lawyers.status, 200, 'reads go on (WAL)');
      assert.equal(lawyers.body.lawyers.length, 2);
    } finally {
      other.exec('ROLLBACK');
    }
    assert.equal(count('SELECT COUNT(*) FROM matches'), matchesBefore, 'the busy match was not stored');
    assert.equal(count('SELECT COUNT(*) FROM outcomes'), 0);

    // The match the service scored for the 503 is on record: one line, no case field.
    const lost = fake.ids.at(-1);
    const lines = readLines(unstoredPath);
    assert.equal(lines.length, 1, lines.join('\n'));
    const entry = JSON.parse(lines[0]);
    assert.deepEqual(Object.keys(entry).sort(), LINE_KEYS);
    assert.equal(entry.match_id, lost);
    assert.equal(entry.model_version, 'fake-busy');
    assert.equal(entry.reason, 'database_busy');
    assert.deepEqual(entry.lawyers.map((l) => l.rank), [1, 2, 3]);
    assert.deepEqual(entry.lawyers.map((l) => l.match_probability), [0.9, 0.8, 0.7]);
    assert.ok(entry.lawyers.every((l) => Number.isInteger(l.lawyer_id)));
    for (const value of ['31337.77', 'family', 'high', '"es"', 'north', 'case_type', 'client_']) {
      assert.ok(!lines[0].includes(value), `no case field in the unstored line (${value})`);
    }
    assert.equal(fs.statSync(unstoredPath).mode & 0o777, 0o600);
    assert.ok(backend.logs.some((l) => l.includes(lost) && /not stored \(database_busy/.test(l)), backend.logs.join('\n'));
    assert.ok(!backend.logs.some((l) => /internal error/.test(l)), 'never a 500');

    // The lock gone, both work again.
    const again = await match();
    assert.equal(again.status, 200);
    assert.equal((await record({ ...pair, outcome: 'engaged' })).status, 201);
  });

  test('a lock released between the retries: the match is stored, 200, nothing unstored', async () => {
    const linesBefore = readLines(unstoredPath).length;
    other.exec('BEGIN IMMEDIATE');
    let retried = 0;
    onRetry = () => { retried += 1; if (other.inTransaction) other.exec('ROLLBACK'); };
    try {
      const res = await match();
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(retried, 1, 'the first attempt found the lock, the retry did not');
      assert.equal(count('SELECT COUNT(*) FROM matches WHERE match_id = ?', res.body.match_id), 1);
    } finally {
      onRetry = null;
      if (other.inTransaction) other.exec('ROLLBACK');
    }
    assert.equal(readLines(unstoredPath).length, linesBefore);
  });

  test('a storage error that is not busy: 503 + Retry-After (storage_failed), the match logged as unstored', async () => {
    other.exec("CREATE TRIGGER refuse_matches BEFORE INSERT ON matches BEGIN SELECT RAISE(ABORT, 'simulated storage failure'); END");
    try {
      const res = await match();
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.equal(res.headers.get('retry-after'), String(RETRY_AFTER_S));
      assert.deepEqual(res.body, { error: 'the match could not be stored; please try again shortly', reason: 'storage_failed' });
    } finally {
      other.exec('DROP TRIGGER refuse_matches');
    }
    const entry = JSON.parse(readLines(unstoredPath).at(-1));
    assert.equal(entry.match_id, fake.ids.at(-1));
    assert.equal(entry.reason, 'storage_failed');
    assert.match(entry.error, /simulated storage failure/);
  });
});

test('when the unstored file cannot be written either, the match goes to the server log', async () => {
  const fake = await rankingService();
  const dir = tempDir('legalaid-busy-');
  const dbPath = path.join(dir, 'lawyers.db');
  const backend = await startBackend({ mlUrl: fake.url, dbPath, unstoredPath: dir, busy: { retries: 0, retryAfterS: RETRY_AFTER_S } });
  const other = new Database(dbPath);
  try {
    other.exec('BEGIN IMMEDIATE');
    const res = await api(backend.url, '/api/match', { method: 'POST', json: CASE });
    other.exec('ROLLBACK');
    assertBusy503(res);
    const line = backend.logs.find((l) => l.includes('the unstored match:'));
    assert.ok(line, backend.logs.join('\n'));
    const entry = JSON.parse(line.slice(line.indexOf('{')));
    assert.equal(entry.match_id, fake.ids.at(-1));
    assert.equal(entry.lawyers.length, 3);
  } finally {
    other.close();
    await backend.close();
    await fake.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('npm run replay-unstored', () => {
  const SCRIPT = path.join(BACKEND, 'scripts', 'replay_unstored.js');
  function run(args, { env = {} } = {}) {
    const proc = spawn(process.execPath, [SCRIPT, ...args], { cwd: BACKEND, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (c) => { stderr += c; });
    proc.stdout.resume();
    return new Promise((resolve) => proc.once('close', (code) => resolve({ code, stderr })));
  }

  let dir;
  let dbPath;
  let unstoredPath;
  let backend;
  let fake;

  before(async () => {
    fake = await rankingService();
    dir = tempDir('legalaid-replay-');
    dbPath = path.join(dir, 'lawyers.db');
    unstoredPath = path.join(dir, 'unstored_matches.jsonl');
    backend = await startBackend({ mlUrl: fake.url, dbPath, outcomesToken: TOKEN, busy: { retries: 0, retryAfterS: RETRY_AFTER_S } });
  });

  after(async () => {
    await backend?.close();
    await fake?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('stores what it can, keeps the rest with the reason, and is idempotent, while the backend runs', async () => {
    // Two matches lost to a busy database, through the API.
    const other = new Database(dbPath);
    other.exec('BEGIN IMMEDIATE');
    for (let i = 0; i < 2; i++) assertBusy503(await api(backend.url, '/api/match', { method: 'POST', json: CASE }));
    other.exec('ROLLBACK');
    other.close();
    const [lostA, lostB] = fake.ids.slice(-2);
    const [a, b] = readLines(unstoredPath).map((l) => JSON.parse(l));
    assert.deepEqual([a.match_id, b.match_id], [lostA, lostB]);

    // One stored meanwhile: its line is a repeat. Plus a conflict, a lawyer not in the directory, garbage.
    const stored = await api(backend.url, '/api/match', { method: 'POST', json: CASE });
    assert.equal(stored.status, 200);
    const repeat = {
      ...a, match_id: stored.body.match_id, created_at: new Date().toISOString(),
      lawyers: stored.body.lawyers.map((l, i) => ({ lawyer_id: l.id, rank: i + 1, match_probability: l.match_probability })),
    };
    const conflict = { ...repeat, lawyers: [{ lawyer_id: repeat.lawyers[0].lawyer_id, rank: 1, match_probability: 0.1 }] };
    const stranger = { ...a, match_id: 'c'.repeat(32), lawyers: [{ lawyer_id: 999999, rank: 1, match_probability: 0.5 }] };
    fs.appendFileSync(unstoredPath, [repeat, conflict, stranger].map((e) => `${JSON.stringify(e)}\n`).join('') + 'not json\n');

    const first = await run(['--db', dbPath]);
    assert.equal(first.code, 1, first.stderr);
    assert.match(first.stderr, /stored 2, already stored 1, kept 3/);
    assert.match(first.stderr, new RegExp(`kept ${repeat.match_id} .*conflict`));
    assert.match(first.stderr, /kept c{32} .*FOREIGN KEY/);
    assert.match(first.stderr, /kept \(no match_id\) .*line 6.*not JSON/);
    const db = backend.directory.db;
    for (const e of [a, b]) {
      const m = db.prepare('SELECT created_at, model_version FROM matches WHERE match_id = ?').get(e.match_id);
      assert.deepEqual(m, { created_at: e.created_at, model_version: 'fake-busy' }, 'stored as scored, at its own time');
      const shown = db.prepare('SELECT lawyer_id, rank, match_probability FROM match_lawyers WHERE match_id = ? ORDER BY rank').all(e.match_id);
      assert.deepEqual(shown, e.lawyers);
    }
    const kept = readLines(unstoredPath);
    assert.equal(kept.length, 3);
    assert.deepEqual(kept.slice(0, 2).map((l) => JSON.parse(l).match_id), [repeat.match_id, stranger.match_id]);
    assert.equal(kept[2], 'not json');
    assert.equal(fs.statSync(unstoredPath).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.replay-') || f.endsWith('.lock')), [], 'nothing left aside');

    // A replayed match is a match like any other: outcomes can refer to it.
    const outcome = await api(backend.url, '/api/outcomes', { method: 'POST', headers: AUTH,
      json: { match_id: a.match_id, lawyer_id: a.lawyers[0].lawyer_id, outcome: 'declined' } });
    assert.equal(outcome.status, 201, JSON.stringify(outcome.body));

    // Again: nothing new stored, the same three kept.
    const second = await run([], { env: { DB_PATH: dbPath } });
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, /stored 0, already stored 0, kept 3/);
    assert.deepEqual(readLines(unstoredPath), kept);
    assert.equal(db.prepare('SELECT COUNT(*) FROM match_lawyers WHERE match_id = ?').pluck().get(a.match_id), 3);

    // Once the operator has dealt with those, the file is gone and the replay says so.
    fs.writeFileSync(unstoredPath, `${JSON.stringify(a)}\n`);
    const done = await run(['--db', dbPath]);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, /stored 0, already stored 1, kept 0/);
    assert.equal(fs.existsSync(unstoredPath), false);
    const nothing = await run(['--db', dbPath]);
    assert.equal(nothing.code, 0, nothing.stderr);
    assert.match(nothing.stderr, /nothing to replay/);
  });

  test('bad arguments and a replay already running: exit 2', async () => {
    for (const [args, name] of [[['--db', path.join(dir, 'none.db')], '--db'], [['--file'], '--file'], [['--format', 'x'], '--format']]) {
      const res = await run(args);
      assert.equal(res.code, 2, res.stderr);
      assert.ok(res.stderr.includes(name), res.stderr);
    }
    fs.writeFileSync(unstoredPath, 'not json\n');
    fs.writeFileSync(`${unstoredPath}.lock`, `${process.pid}\n`); // this very process: alive
    try {
      const res = await run(['--db', dbPath]);
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, /another replay/);
      assert.equal(fs.readFileSync(unstoredPath, 'utf8'), 'not json\n', 'untouched');
    } finally {
      fs.rmSync(`${unstoredPath}.lock`);
    }
  });
});
