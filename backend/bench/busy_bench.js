#!/usr/bin/env node
'use strict';
// How long Node's event loop stalls while another connection holds the database's write lock.
//
// In this process: a stand-in match service (answers /rank at once), the backend over a temporary
// SQLite file, and a second connection holding BEGIN IMMEDIATE. N sequential POST /api/match
// (each ends 503 database_busy) while GET /api/health is sent every 20 ms; perf_hooks'
// monitorEventLoopDelay records the stalls. Two settings, measured in the same run:
//   baseline: busy_timeout 2000 ms, no asynchronous retry (the backend before this change)
//   current:  busy_timeout DB_BUSY_TIMEOUT_MS (5 ms), 3 retries on timers (the defaults)
//   floor:    the current settings without the lock (what a match costs the loop anyway)
// Prints the worst and p99 event-loop delay, the worst /api/health time, and the ratios.
//
// Usage: node bench/busy_bench.js [--requests 5] [--json]

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const Database = require('better-sqlite3');
const { openDirectory } = require('../lib/db');
const { createMatchClient } = require('../lib/matchService');
const { createApp } = require('../lib/app');

const argValue = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const REQUESTS = argValue('requests', 5);
const AS_JSON = process.argv.includes('--json');
const CASE = { case_type: 'housing', case_complexity: 2, urgency: 'medium', client_language: 'en', client_region: 'east', client_income: 30000 };

const listen = (server) => new Promise((r) => server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${server.address().port}`)));

async function measure(label, { busyTimeoutMs, retries, locked = true }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legalaid-busy-bench-'));
  const fake = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url === '/health') return res.end('{"status": "ok", "model_version": "bench"}');
      const { lawyers } = JSON.parse(body);
      return res.end(JSON.stringify({ model_version: 'bench', prediction_id: crypto.randomBytes(16).toString('hex'),
        ranking: lawyers.slice(0, 10).map((l) => ({ lawyer_id: l.lawyer_id, match_probability: 0.5 })) }));
    });
  });
  const mlUrl = await listen(fake);
  const directory = openDirectory(path.join(dir, 'lawyers.db'), { busyTimeoutMs });
  const app = createApp({ directory, matchClient: createMatchClient({ baseUrl: mlUrl }), busy: { retries }, log: () => {} });
  const server = http.createServer(app);
  const base = await listen(server);
  const other = new Database(path.join(dir, 'lawyers.db'));
  if (locked) other.exec('BEGIN IMMEDIATE');

  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const healthMs = [];
  let stop = false;
  const pinger = (async () => {
    while (!stop) {
      const t = performance.now();
      await (await fetch(`${base}/api/health`)).arrayBuffer();
      healthMs.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  histogram.enable();
  const statuses = [];
  for (let i = 0; i < REQUESTS; i++) {
    const res = await fetch(`${base}/api/match`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CASE) });
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  histogram.disable();
  stop = true;
  await pinger;
  if (locked) other.exec('ROLLBACK');
  other.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  fake.closeAllConnections();
  await new Promise((r) => fake.close(r));
  directory.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    label, busyTimeoutMs, retries, statuses: [...new Set(statuses)],
    loopMaxMs: histogram.max / 1e6, loopP99Ms: histogram.percentile(99) / 1e6,
    healthMaxMs: Math.max(...healthMs), healthChecks: healthMs.length,
  };
}

(async () => {
  const baseline = await measure('baseline (busy_timeout 2000 ms, no retry)', { busyTimeoutMs: 2000, retries: 0 });
  const current = await measure('current (busy_timeout 5 ms, 3 retries on timers)', { busyTimeoutMs: 5, retries: 3 });
  const floor = await measure('no lock (the floor: matches stored, 200)', { busyTimeoutMs: 5, retries: 3, locked: false });
  const ratio = { loopMax: baseline.loopMaxMs / current.loopMaxMs, healthMax: baseline.healthMaxMs / current.healthMaxMs };
  if (AS_JSON) {
    process.stdout.write(`${JSON.stringify({ requests: REQUESTS, baseline, current, floor, ratio })}\n`);
    return;
  }
  const f = (x) => x.toFixed(1).padStart(8);
  console.log(`${REQUESTS} POST /api/match each, the write lock held by another connection; GET /api/health every 20 ms`);
  console.log(`${'setting'.padEnd(50)} status  loop max  loop p99  health max (ms)`);
  for (const r of [baseline, current, floor]) {
    console.log(`${r.label.padEnd(50)} ${r.statuses.join(',').padEnd(6)}${f(r.loopMaxMs)}  ${f(r.loopP99Ms)}  ${f(r.healthMaxMs)}`);
  }
  console.log(`ratio baseline/current: event-loop max ${ratio.loopMax.toFixed(0)}x, health max ${ratio.healthMax.toFixed(0)}x`);
})();
