// Client data on disk is its owner's alone from the moment it is created: the database, its -wal
// and -shm, and the unstored-matches file are 0600, in 0700 folders (exports: outcomes.test.mjs).
// Checked with stat, in this process under a permissive umask (so the code's own open modes are
// what is tested) and through `node server.js`, with a lock held from this other process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BACKEND, backendRequire, freePort, startFakeService, tempDir, waitForHttp, api, CASE } from './helpers.mjs';

const Database = backendRequire('better-sqlite3');
const { openDirectory } = backendRequire('./lib/db.js');
const { createOutcomeStore } = backendRequire('./lib/outcomes.js');

const modeOf = (file) => (fs.statSync(file).mode & 0o777).toString(8);

// This process's own setting (each test file runs in its own process): the usual 022, under which
// a plain open() would make 0644 files and 0755 folders.
process.umask(0o022);

test('openDirectory creates the database 0600 and its folders 0700; -wal and -shm follow the database', () => {
  const dir = tempDir();
  const file = path.join(dir, 'a', 'b', 'lawyers.db');
  try {
    const d = openDirectory(file);
    createOutcomeStore(d.db).recordMatch('b'.repeat(32), 'v1', [{ lawyer_id: 1, match_probability: 0.5 }]);
    assert.equal(d.db.pragma('journal_mode', { simple: true }), 'wal');
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      assert.ok(fs.existsSync(f), `${f} exists while the database is open`);
      assert.equal(modeOf(f), '600', f);
    }
    assert.equal(modeOf(path.join(dir, 'a')), '700');
    assert.equal(modeOf(path.join(dir, 'a', 'b')), '700');
    assert.deepEqual(d.warnings, []);
    d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a database made readable by others before is named in a warning (its mode is left alone)', () => {
  const dir = tempDir();
  const file = path.join(dir, 'old.db');
  try {
    new Database(file).close(); // SQLite's own default: 0644 under umask 022
    assert.equal(modeOf(file), '644');
    const d = openDirectory(file);
    assert.equal(d.warnings.length, 1, d.warnings.join('\n'));
    assert.match(d.warnings[0], /old\.db is mode 0644: other users can read it; chmod 600/);
    d.close();
    assert.equal(modeOf(file), '644', 'reported, not changed behind the operator\'s back');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('node server.js: database, -wal, -shm and the unstored-matches file 0600 in a 0700 folder; a lock held by another process gives 503', async () => {
  const ids = [];
  const fake = await startFakeService((req, res, body) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.url === '/health') return res.end('{"status": "ok", "model_version": "fake-modes"}');
    const id = crypto.randomBytes(16).toString('hex');
    ids.push(id);
    const { lawyers } = JSON.parse(body);
    return res.end(JSON.stringify({ model_version: 'fake-modes', prediction_id: id,
      ranking: lawyers.slice(0, 2).map((l) => ({ lawyer_id: l.lawyer_id, match_probability: 0.5 })) }));
  });
  const dir = tempDir();
  const dbDir = path.join(dir, 'var');
  const dbPath = path.join(dbDir, 'lawyers.db');
  const port = await freePort();
  const proc = spawn(process.execPath, ['server.js'], {
    cwd: BACKEND,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), DB_PATH: dbPath, ML_SERVICE_URL: fake.url,
      DB_BUSY_RETRIES: '1', DB_BUSY_RETRY_AFTER_S: '3' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (c) => { output += c; });
  proc.stderr.on('data', (c) => { output += c; });
  const base = `http://127.0.0.1:${port}`;
  let other;
  try {
    await waitForHttp(`${base}/api/health`, { timeoutMs: 15000, proc });
    assert.equal((await api(base, '/api/match', { method: 'POST', json: CASE })).status, 200);
    for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) assert.equal(modeOf(f), '600', f);
    assert.equal(modeOf(dbDir), '700');
    assert.doesNotMatch(output, /warning/);

    other = new Database(dbPath);
    other.exec('BEGIN IMMEDIATE');
    const [busy, health] = await Promise.all([
      api(base, '/api/match', { method: 'POST', json: CASE }),
      api(base, '/api/health'),
    ]);
    other.exec('ROLLBACK');
    assert.equal(busy.status, 503, JSON.stringify(busy.body));
    assert.equal(busy.headers.get('retry-after'), '3');
    assert.equal(busy.body.reason, 'database_busy');
    assert.equal(health.status, 200);

    const unstored = path.join(dbDir, 'unstored_matches.jsonl');
    assert.equal(JSON.parse(fs.readFileSync(unstored, 'utf8')).match_id, ids.at(-1));
    assert.equal(modeOf(unstored), '600');
    assert.match(output, new RegExp(`match ${ids.at(-1)} .*was not stored`));
  } finally {
    if (other?.inTransaction) other.exec('ROLLBACK');
    other?.close();
    const exited = new Promise((r) => proc.once('exit', (code) => r(code)));
    proc.kill('SIGTERM');
    assert.equal(await exited, 0, output);
    await fake.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
