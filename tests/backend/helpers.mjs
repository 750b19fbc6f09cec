// Shared helpers for the backend and browser tests (not a test file itself: node --test only
// runs *.test.mjs here).
//
// Module resolution: these tests live outside backend/, so a bare `import 'playwright-core'`
// would search tests/node_modules, ./node_modules ... and never backend/node_modules. Instead
// every dependency and backend module is loaded through `backendRequire`, a require() created
// with createRequire() at backend/package.json: it resolves exactly as code inside backend/ does,
// so `npm ci` in backend/ is the only install step and nothing is duplicated or symlinked.

import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BACKEND = path.join(REPO, 'backend');
export const backendRequire = createRequire(path.join(BACKEND, 'package.json'));

const PYTHON = process.env.ML_PYTHON || path.join(REPO, '.venv', 'bin', 'python');
const PREDICT = path.join(REPO, 'ml_model', 'predict_model.py');

export const CASE = Object.freeze({
  case_type: 'family',
  case_complexity: 3,
  urgency: 'high',
  client_language: 'es',
  client_region: 'north',
  client_income: 22000,
});

export function tempDir(prefix = 'legalaid-test-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A TCP port nothing listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll url until it answers HTTP 200 or the deadline passes. */
export async function waitForHttp(url, { timeoutMs = 30000, proc } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) throw new Error(`process exited (code ${proc.exitCode}) before ${url} answered`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.message;
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms (${last})`);
}

/**
 * The text of a file once it is quiet: unchanged for quietMs and, if given, until(text) is true (a
 * predicate that throws, e.g. on a half-written line, counts as false). Missing file: ''.
 *
 * Why: the match service appends a request's prediction-log line after it has sent the response,
 * so a read right after a response can miss that line and then count it with the next request.
 * At the deadline it returns what is there, for the caller's assertions to report.
 */
export async function readWhenQuiet(file, { quietMs = 200, timeoutMs = 10000, until = () => true } = {}) {
  const read = () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
  const done = (text) => { try { return Boolean(until(text)); } catch { return false; } };
  const deadline = Date.now() + timeoutMs;
  let text = read();
  let since = Date.now();
  while (Date.now() < deadline) {
    await sleep(25);
    const now = read();
    if (now !== text) {
      text = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs && done(text)) {
      return text;
    }
  }
  return read();
}

function stopProcess(proc, timeoutMs = 5000) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); }, timeoutMs);
    proc.once('exit', () => { clearTimeout(timer); resolve(); });
    proc.kill('SIGTERM');
  });
}

/**
 * Start the REAL match service (ml_model/predict_model.py) on a free port and wait for /health.
 * Returns { url, port, predictionLog, output(), stop() }.
 */
export async function startMatchService() {
  if (!fs.existsSync(PREDICT)) throw new Error(`the match service is missing: ${PREDICT}`);
  if (!fs.existsSync(PYTHON)) throw new Error(`the Python environment is missing: ${PYTHON}`);
  const port = await freePort();
  const dir = tempDir('legalaid-ml-');
  const predictionLog = path.join(dir, 'predictions.jsonl');
  const proc = spawn(PYTHON, [PREDICT], {
    cwd: REPO,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), PREDICTION_LOG: predictionLog, PYTHONDONTWRITEBYTECODE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk) => { output = (output + chunk).slice(-20000); };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/health`, { timeoutMs: 60000, proc });
  } catch (err) {
    await stopProcess(proc);
    throw new Error(`${err.message}\n--- match service output ---\n${output}`);
  }
  return {
    url,
    port,
    predictionLog,
    output: () => output,
    async stop() { await stopProcess(proc); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

/**
 * The backend, in this process, on a free port, over a fresh SQLite file; outcomesToken is the
 * OUTCOMES_TOKEN setting (unset: POST /api/outcomes answers 503); busy, unstoredPath and helpline
 * as createApp takes them (default: the app's own).
 * Returns { url, directory, logs, close() }.
 */
export async function startBackend({ mlUrl, timeoutMs = 2000, dbPath, bodyLimit, outcomesToken, busy, unstoredPath, helpline } = {}) {
  const { openDirectory } = backendRequire('./lib/db.js');
  const { createMatchClient } = backendRequire('./lib/matchService.js');
  const { createApp } = backendRequire('./lib/app.js');
  const dir = dbPath ? null : tempDir('legalaid-db-');
  const directory = openDirectory(dbPath || path.join(dir, 'lawyers.db'));
  const logs = [];
  const matchClient = createMatchClient({ baseUrl: mlUrl, timeoutMs });
  const app = createApp({ directory, matchClient, bodyLimit, outcomesToken, busy, unstoredPath, helpline, log: (line) => logs.push(line) });
  const server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    directory,
    matchClient,
    logs,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      directory.close();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A throwaway local HTTP server for failure cases; handler(req, res, body). */
export async function startFakeService(handler) {
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => handler(req, res, body));
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** fetch + JSON; returns { status, headers, body, ms }. */
export async function api(base, pathname, { method = 'GET', json, headers = {}, raw } = {}) {
  const started = performance.now();
  const res = await fetch(base + pathname, {
    method,
    headers: json !== undefined || raw !== undefined ? { 'content-type': 'application/json', ...headers } : headers,
    body: json !== undefined ? JSON.stringify(json) : raw,
    signal: AbortSignal.timeout(15000),
  });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, headers: res.headers, body, ms: performance.now() - started };
}
