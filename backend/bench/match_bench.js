#!/usr/bin/env node
'use strict';
// Benchmark of POST /api/match over the 200-lawyer directory, against the match service's own
// POST /rank for the same 200 candidates as the baseline, measured in the same run.
//
// Starts the real match service (../ml_model/predict_model.py) and the backend (`node server.js`,
// a separate process over a temporary SQLite file), each on a free port; warms up; then sends
// N sequential requests to each, interleaved (one /rank, one /api/match, ...) so that both see
// the same machine load; prints p50/p90/p99 in ms and the ratio of the two medians.
//
// Usage: node bench/match_bench.js [--requests 300] [--warmup 30] [--json]

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { openDirectory } = require('../lib/db');
const { originOf, buildCandidates } = require('../lib/match');

const REPO = path.resolve(__dirname, '..', '..');
const PYTHON = process.env.ML_PYTHON || path.join(REPO, '.venv', 'bin', 'python');
const argValue = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const REQUESTS = argValue('requests', 300);
const WARMUP = argValue('warmup', 30);
const AS_JSON = process.argv.includes('--json');

const CASE = {
  case_type: 'immigration', case_complexity: 3, urgency: 'high',
  client_language: 'es', client_region: 'central', client_income: 21000,
};

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function waitFor(url, proc, name) {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${name} exited with code ${proc.exitCode}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not answer at ${url}`);
}

function startProcess(cmd, args, opts, name) {
  const proc = spawn(cmd, args, { ...opts, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (c) => { err = (err + c).slice(-4000); });
  proc.on('exit', (code) => { if (code && code !== 0 && !proc.stopping) process.stderr.write(`${name} exited ${code}:\n${err}\n`); });
  return proc;
}

async function post(url, body) {
  const t0 = performance.now();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status} ${text.slice(0, 200)}`);
  const timing = {};
  for (const m of (res.headers.get('server-timing') || '').matchAll(/(\w+);dur=([\d.]+)/g)) timing[m[1]] = Number(m[2]);
  return { ms, text, timing };
}

function stats(samples) {
  const s = samples.slice().sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  return { n: s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length, max: s[s.length - 1] };
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'legalaid-bench-'));
  const dbPath = path.join(tmp, 'lawyers.db');
  const mlPort = await freePort();
  const appPort = await freePort();
  const mlUrl = `http://127.0.0.1:${mlPort}`;
  const appUrl = `http://127.0.0.1:${appPort}`;
  const procs = [];
  const stop = () => { for (const p of procs) { p.stopping = true; if (p.exitCode === null) p.kill('SIGTERM'); } };
  process.on('SIGINT', () => { stop(); process.exit(130); });
  try {
    // The service as in production: gunicorn's production settings (2 gevent workers).
    const gunicorn = path.join(path.dirname(PYTHON), 'gunicorn');
    const ml = startProcess(gunicorn, ['-c', 'python:ml_model.gunicorn_conf', '--no-control-socket', '-b', `127.0.0.1:${mlPort}`, 'ml_model.predict_model:create_app()'], {
      cwd: REPO,
      env: { ...process.env, HOST: '127.0.0.1', PORT: String(mlPort), PREDICTION_LOG: path.join(tmp, 'predictions.jsonl'), PYTHONDONTWRITEBYTECODE: '1' },
    }, 'match service');
    procs.push(ml);
    await waitFor(`${mlUrl}/health`, ml, 'match service');
    const app = startProcess(process.execPath, [path.join(__dirname, '..', 'server.js')], {
      cwd: path.join(__dirname, '..'),
      env: { ...process.env, HOST: '127.0.0.1', PORT: String(appPort), DB_PATH: dbPath, ML_SERVICE_URL: mlUrl },
    }, 'backend');
    procs.push(app);
    await waitFor(`${appUrl}/api/health`, app, 'backend');

    // The exact /rank payload the backend sends for CASE (same directory file, same code).
    const directory = openDirectory(dbPath);
    const profiles = directory.all();
    const { lawyers } = buildCandidates(CASE, originOf(CASE, null), profiles);
    directory.close();
    const rankBody = JSON.stringify({ case: CASE, lawyers });
    const matchBody = JSON.stringify(CASE);

    const check = JSON.parse((await post(`${appUrl}/api/match`, matchBody)).text);
    if (check.candidates !== profiles.length || check.lawyers.length !== 10) throw new Error('unexpected /api/match answer');

    for (let i = 0; i < WARMUP; i++) {
      await post(`${mlUrl}/rank`, rankBody);
      await post(`${appUrl}/api/match`, matchBody);
    }
    const rankMs = [];
    const matchMs = [];
    const prepareMs = [];
    const innerRankMs = [];
    for (let i = 0; i < REQUESTS; i++) {
      rankMs.push((await post(`${mlUrl}/rank`, rankBody)).ms);
      const m = await post(`${appUrl}/api/match`, matchBody);
      matchMs.push(m.ms);
      prepareMs.push(m.timing.prepare);
      innerRankMs.push(m.timing.rank);
    }
    const match = stats(matchMs);
    const rank = stats(rankMs);
    // From the backend's Server-Timing header: building the 200 candidates, and its /rank call.
    const prepare = stats(prepareMs);
    const inner = stats(innerRankMs);
    const result = {
      lawyers: profiles.length,
      requests: REQUESTS,
      api_match_ms: match,
      service_rank_ms: rank,
      ratio_p50: match.p50 / rank.p50,
      backend_overhead_p50_ms: match.p50 - rank.p50,
      backend_prepare_ms: prepare,
      backend_rank_call_ms: inner,
      node: process.version,
      cpus: os.cpus().length,
      loadavg_1m: os.loadavg()[0],
    };
    if (AS_JSON) {
      console.log(JSON.stringify(result));
    } else {
      const f = (x) => x.toFixed(2).padStart(7);
      console.log(`POST /api/match over ${profiles.length} lawyers, ${REQUESTS} sequential requests each (after ${WARMUP} warm-up), interleaved:`);
      console.log(`                        p50      p90      p99     mean   (ms)`);
      console.log(`backend /api/match  ${f(match.p50)}  ${f(match.p90)}  ${f(match.p99)}  ${f(match.mean)}`);
      console.log(`service /rank       ${f(rank.p50)}  ${f(rank.p90)}  ${f(rank.p99)}  ${f(rank.mean)}   (baseline: same 200 candidates)`);
      console.log(`  inside the backend (Server-Timing): candidates ${prepare.p50.toFixed(2)} ms, its /rank call ${inner.p50.toFixed(2)} ms (p50)`);
      console.log(`ratio of p50s (match / rank): ${result.ratio_p50.toFixed(2)}x; backend overhead at p50: ${result.backend_overhead_p50_ms.toFixed(2)} ms`);
      console.log(`target: /api/match p50 <= 15 ms -> ${match.p50 <= 15 ? 'met' : 'NOT met'} (load average ${result.loadavg_1m.toFixed(2)} on ${result.cpus} cores)`);
    }
  } finally {
    stop();
    await new Promise((r) => setTimeout(r, 300));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => { console.error(`benchmark failed: ${err.message}`); process.exitCode = 1; });
