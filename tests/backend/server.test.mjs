// The real entry point (`npm start` runs `node server.js`): env settings, the database file,
// the page served at /, and a clean stop on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BACKEND, freePort, tempDir, waitForHttp, api } from './helpers.mjs';

const TOKEN = 'server-test-token-0123456789';

test('npm start entry point: creates and seeds DB_PATH, serves the page and the API, stops on SIGTERM', async () => {
  const dir = tempDir();
  const dbPath = path.join(dir, 'sub', 'lawyers.db');
  const port = await freePort();
  const deadMl = await freePort();
  const proc = spawn(process.execPath, ['server.js'], {
    cwd: BACKEND,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), DB_PATH: dbPath,
      ML_SERVICE_URL: `http://127.0.0.1:${deadMl}`, ML_TIMEOUT_MS: '500', OUTCOMES_TOKEN: TOKEN, HELPLINE_PHONE: '+1 312-555-0177' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (c) => { output += c; });
  proc.stderr.on('data', (c) => { output += c; });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${base}/api/lawyers?limit=1`, { timeoutMs: 15000, proc });
    assert.match(output, /seeded 200 lawyers/);
    assert.match(output, /timeout 500 ms/);
    assert.match(output, /outcome recording on/);
    assert.ok(fs.existsSync(dbPath), 'the database file was created at DB_PATH');

    const page = await fetch(`${base}/`);
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /text\/html/);
    assert.match(html, /<form id="case-form"/);
    const csp = page.headers.get('content-security-policy');
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(page.headers.get('x-powered-by'), null);
    for (const asset of ['app.js', 'i18n.js', 'styles.css', 'i18n/en.json', 'i18n/ar.json']) {
      const res = await fetch(`${base}/${asset}`);
      assert.equal(res.status, 200, asset);
      await res.arrayBuffer();
    }
    // Everything the page loads is local: no http(s) URL in its source.
    for (const file of ['index.html', 'app.js', 'i18n.js', 'styles.css']) {
      const src = fs.readFileSync(path.join(BACKEND, '..', 'src', file), 'utf8');
      assert.doesNotMatch(src, /(src|href)=["']https?:|url\(["']?https?:|import .* from ["']https?:/, file);
      assert.doesNotMatch(src, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, `${file} renders text safely`);
    }

    const health = await api(base, '/api/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'degraded');
    const match = await api(base, '/api/match', { method: 'POST', json: {
      case_type: 'housing', case_complexity: 2, urgency: 'low', client_language: 'en', client_region: 'east', client_income: 1000,
    } });
    // Matching is unavailable: the eligible lawyers in a plain order, and the help line HELPLINE_PHONE sets.
    assert.equal(match.status, 200);
    assert.equal(match.body.ranked, false);
    assert.deepEqual(match.body.helpline, { phone: '+1 312-555-0177' });
    assert.deepEqual((await api(base, '/api/helpline')).body, { phone: '+1 312-555-0177' });

    // OUTCOMES_TOKEN reaches the outcomes endpoint: the right token gets past authentication.
    const outcome = { match_id: 'a'.repeat(32), lawyer_id: 1, outcome: 'engaged' };
    const wrong = await api(base, '/api/outcomes', { method: 'POST', json: outcome, headers: { authorization: 'Bearer not-the-token-at-all' } });
    assert.equal(wrong.status, 401);
    const right = await api(base, '/api/outcomes', { method: 'POST', json: outcome, headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(right.status, 404, JSON.stringify(right.body));
    assert.equal(right.body.field, 'match_id');
  } finally {
    const exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
    proc.kill('SIGTERM');
    const { code } = await exited;
    assert.equal(code, 0, output);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad setting stops the start with a clear message', async () => {
  const proc = spawn(process.execPath, ['server.js'], {
    cwd: BACKEND,
    env: { ...process.env, PORT: 'eighty', DB_PATH: ':memory:' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr.on('data', (c) => { err += c; });
  const code = await new Promise((r) => proc.once('exit', r));
  assert.equal(code, 1);
  assert.match(err, /PORT must be an integer/);
});

test('a HELPLINE_PHONE that is not a phone number stops the start', async () => {
  const proc = spawn(process.execPath, ['server.js'], {
    cwd: BACKEND,
    env: { ...process.env, PORT: '0', DB_PATH: ':memory:', HELPLINE_PHONE: 'call the office' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr.on('data', (c) => { err += c; });
  const code = await new Promise((r) => proc.once('exit', r));
  assert.equal(code, 1);
  assert.match(err, /HELPLINE_PHONE must be/);
});

test('an OUTCOMES_TOKEN too short to be a secret stops the start', async () => {
  const proc = spawn(process.execPath, ['server.js'], {
    cwd: BACKEND,
    env: { ...process.env, PORT: '0', DB_PATH: ':memory:', OUTCOMES_TOKEN: 'secret' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr.on('data', (c) => { err += c; });
  const code = await new Promise((r) => proc.once('exit', r));
  assert.equal(code, 1);
  assert.match(err, /OUTCOMES_TOKEN must be at least 16 characters/);
});
