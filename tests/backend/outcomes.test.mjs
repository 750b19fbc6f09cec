// Learning from production: /api/match keeps which lawyers it showed under the match service's
// prediction_id (match_id); intake workers record what happened (POST /api/outcomes); the outcomes
// are exported as training labels (npm run export-outcomes). Real SQLite, REAL match service.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BACKEND, backendRequire, startMatchService, startBackend, api, readWhenQuiet, tempDir, CASE } from './helpers.mjs';

const Database = backendRequire('better-sqlite3');

const TOKEN = 'test-outcomes-token-0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const RECORD_KEYS = ['corrected', 'label', 'lawyer_id', 'match_id', 'occurred_at', 'outcome', 'recorded_at'];
const EXPORT_KEYS = ['label', 'lawyer_id', 'match_id', 'model_version', 'occurred_at', 'outcome', 'recorded_at'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let ml;        // the real match service
let backend;   // with OUTCOMES_TOKEN set
let closed;    // without it

before(async () => {
  ml = await startMatchService();
  backend = await startBackend({ mlUrl: ml.url, outcomesToken: TOKEN });
  closed = await startBackend({ mlUrl: ml.url });
});

after(async () => {
  await backend?.close();
  await closed?.close();
  await ml?.stop();
});

/** POST /api/match; asserts 200 and returns the body. */
async function match(json = CASE, on = backend) {
  const res = await api(on.url, '/api/match', { method: 'POST', json });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

function record(json, { headers = AUTH, on = backend } = {}) {
  return api(on.url, '/api/outcomes', { method: 'POST', json, headers });
}

const q = (sql, ...params) => backend.directory.db.prepare(sql).all(...params);
const outcomeRows = (matchId, lawyerId) => q('SELECT * FROM outcomes WHERE match_id = ? AND lawyer_id = ?', matchId, lawyerId);
const historyRows = (matchId, lawyerId) =>
  q('SELECT * FROM outcome_history WHERE match_id = ? AND lawyer_id = ? ORDER BY id', matchId, lawyerId);

describe('POST /api/match keeps what it showed', () => {
  test('returns the service\'s prediction_id as match_id and stores exactly the lawyers returned', async () => {
    const body = await match({ ...CASE, limit: 3 });
    assert.deepEqual(Object.keys(body).sort(), ['candidates', 'case', 'helpline', 'lawyers', 'match_id', 'model_version', 'origin', 'ranked']);
    assert.equal(body.ranked, true);
    assert.match(body.match_id, /^[0-9a-f]{32}$/);
    assert.equal(body.candidates, 200);
    assert.equal(body.lawyers.length, 3);

    const [m] = q('SELECT * FROM matches WHERE match_id = ?', body.match_id);
    assert.equal(m.model_version, body.model_version);
    assert.match(m.created_at, ISO_MS);
    assert.ok(Math.abs(Date.parse(m.created_at) - Date.now()) < 60000, m.created_at);
    const shown = q('SELECT lawyer_id, rank, match_probability FROM match_lawyers WHERE match_id = ? ORDER BY rank', body.match_id);
    assert.deepEqual(shown, body.lawyers.map((l, i) => ({ lawyer_id: l.id, rank: i + 1, match_probability: l.match_probability })),
      'only the 3 lawyers returned, in the order shown, not all 200 candidates');

    // The same id is in the service's prediction log, with every lawyer_id it ranked: the join
    // from an outcome back to the features the model saw.
    const parse = (text) => text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
    const line = parse(await readWhenQuiet(ml.predictionLog, {
      until: (text) => parse(text).some((r) => r.prediction_id === body.match_id),
    })).find((r) => r.prediction_id === body.match_id);
    assert.ok(line, 'the prediction log has a line with this match_id');
    assert.equal(line.model_version, body.model_version);
    assert.equal(line.lawyer_id.length, 200);
    for (const l of body.lawyers) assert.ok(line.lawyer_id.includes(l.id), `lawyer ${l.id} in the logged request`);
  });

  test('every match gets its own id and its own rows', async () => {
    const a = await match({ ...CASE, limit: 2 });
    const b = await match({ ...CASE, limit: 5 });
    assert.notEqual(a.match_id, b.match_id);
    assert.equal(q('SELECT COUNT(*) AS n FROM match_lawyers WHERE match_id = ?', a.match_id)[0].n, 2);
    assert.equal(q('SELECT COUNT(*) AS n FROM match_lawyers WHERE match_id = ?', b.match_id)[0].n, 5);
  });

  test('invalid match requests store nothing', async () => {
    const before = q('SELECT COUNT(*) AS n FROM matches')[0].n;
    const res = await api(backend.url, '/api/match', { method: 'POST', json: { ...CASE, case_type: 7 } }); // 'tax' is scored, with a warning
    assert.equal(res.status, 400);
    assert.equal(q('SELECT COUNT(*) AS n FROM matches')[0].n, before);
  });
});

describe('POST /api/outcomes', () => {
  test('201 on the first record of a shown pair, with the label; engaged = 1, the others 0', async () => {
    const m = await match({ ...CASE, limit: 3 });
    const [first, second, third] = m.lawyers.map((l) => l.id);
    const t0 = Date.now();
    // A whole second just after the match, written in UTC+02:00: stored as the same instant in UTC.
    const when = Math.ceil(t0 / 1000) * 1000 + 1000;
    const local = `${new Date(when + 2 * 3600000).toISOString().slice(0, 19)}+02:00`;
    const res = await record({ match_id: m.match_id, lawyer_id: first, outcome: 'engaged', occurred_at: local, note: 'confirmed by phone with the office' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(Object.keys(res.body).sort(), RECORD_KEYS);
    assert.equal(res.body.match_id, m.match_id);
    assert.equal(res.body.lawyer_id, first);
    assert.equal(res.body.outcome, 'engaged');
    assert.equal(res.body.label, 1);
    assert.equal(res.body.corrected, false);
    assert.equal(res.body.occurred_at, new Date(when).toISOString(), 'normalised to UTC');
    assert.match(res.body.recorded_at, ISO_MS);
    assert.ok(Date.parse(res.body.recorded_at) >= t0 - 5 && Date.parse(res.body.recorded_at) <= Date.now());
    const [row] = outcomeRows(m.match_id, first);
    assert.equal(row.note, 'confirmed by phone with the office');
    assert.equal(row.label, 1);

    const declined = await record({ match_id: m.match_id, lawyer_id: second, outcome: 'declined' });
    assert.equal(declined.status, 201);
    assert.equal(declined.body.label, 0);
    assert.equal(declined.body.occurred_at, declined.body.recorded_at, 'occurred_at defaults to now');
    const silent = await record({ match_id: m.match_id.toUpperCase(), lawyer_id: third, outcome: 'no_response', note: '€'.repeat(500) });
    assert.equal(silent.status, 201, JSON.stringify(silent.body));
    assert.equal(silent.body.label, 0);
    assert.equal(silent.body.match_id, m.match_id, 'match_id is case-insensitive, stored in lower case');
    assert.equal(q('SELECT COUNT(*) AS n FROM outcomes WHERE match_id = ?', m.match_id)[0].n, 3);
  });

  test('the same record again is idempotent: 200, the stored record, no new row', async () => {
    const m = await match({ ...CASE, limit: 1 });
    const pair = { match_id: m.match_id, lawyer_id: m.lawyers[0].id };
    const first = await record({ ...pair, outcome: 'declined', note: 'first call' });
    assert.equal(first.status, 201);
    await sleep(5);
    for (const again of [
      { ...pair, outcome: 'declined', note: 'first call' },          // a retry of the same request
      { ...pair, outcome: 'declined' },                               // fields left out keep their values
      { ...pair, outcome: 'declined', occurred_at: first.body.occurred_at },
      { ...pair, outcome: 'declined', correction: true },             // an older client's flag changes nothing
      { ...pair, outcome: 'declined', previous_outcome: 'engaged' },  // identical: previous_outcome is not even read
    ]) {
      const res = await record(again);
      assert.equal(res.status, 200, `${JSON.stringify(again)} -> ${JSON.stringify(res.body)}`);
      assert.deepEqual(res.body, first.body, 'the stored record, recorded_at unchanged');
    }
    const rows = outcomeRows(pair.match_id, pair.lawyer_id);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].note, 'first call');
    assert.equal(rows[0].recorded_at, first.body.recorded_at);
    assert.equal(historyRows(pair.match_id, pair.lawyer_id).length, 0);
  });

  test('a change without previous_outcome, or with the wrong one, is 409 naming the stored outcome; nothing changes', async () => {
    const m = await match({ ...CASE, limit: 1 });
    const pair = { match_id: m.match_id, lawyer_id: m.lawyers[0].id };
    const first = await record({ ...pair, outcome: 'engaged', note: 'confirmed' });
    assert.equal(first.status, 201);
    for (const change of [
      { outcome: 'no_response' },
      { outcome: 'no_response', correction: false },
      { outcome: 'no_response', correction: true },   // the flag alone is not enough any more
      { outcome: 'no_response', previous_outcome: null },
      { outcome: 'no_response', previous_outcome: 'declined' },
      { outcome: 'engaged', note: 'another note' },    // the same outcome, another note: a change too
      { outcome: 'engaged', occurred_at: new Date(Date.parse(first.body.occurred_at) + 1000).toISOString() },
    ]) {
      const res = await record({ ...pair, ...change });
      assert.equal(res.status, 409, `${JSON.stringify(change)} -> ${JSON.stringify(res.body)}`);
      assert.equal(res.body.field, 'previous_outcome');
      assert.equal(res.body.stored_outcome, 'engaged');
      assert.match(res.body.error, /stored outcome .* is "engaged"/);
      assert.match(res.body.error, /"previous_outcome": "engaged"/);
      assert.deepEqual(res.body.existing, first.body);
    }
    const [row] = outcomeRows(pair.match_id, pair.lawyer_id);
    assert.deepEqual([row.outcome, row.note, row.recorded_at], ['engaged', 'confirmed', first.body.recorded_at]);
    assert.equal(historyRows(pair.match_id, pair.lawyer_id).length, 0);
  });

  test('two different outcomes at once: one is recorded, the other is a conflict', async () => {
    const m = await match({ ...CASE, limit: 1 });
    const pair = { match_id: m.match_id, lawyer_id: m.lawyers[0].id };
    const [a, b] = await Promise.all([record({ ...pair, outcome: 'engaged' }), record({ ...pair, outcome: 'declined' })]);
    assert.deepEqual([a.status, b.status].sort(), [201, 409]);
    assert.equal(outcomeRows(pair.match_id, pair.lawyer_id).length, 1);
  });

  test('a correction names the stored outcome in previous_outcome: replaced, the old record kept in outcome_history', async () => {
    const m = await match({ ...CASE, limit: 1 });
    const pair = { match_id: m.match_id, lawyer_id: m.lawyers[0].id };
    const first = await record({ ...pair, outcome: 'no_response', note: 'no answer after two calls' });
    assert.equal(first.status, 201);
    await sleep(5);
    const fixed = await record({ ...pair, outcome: 'engaged', previous_outcome: 'no_response' });
    assert.equal(fixed.status, 200, JSON.stringify(fixed.body));
    assert.deepEqual(Object.keys(fixed.body).sort(), RECORD_KEYS);
    assert.equal(fixed.body.outcome, 'engaged');
    assert.equal(fixed.body.label, 1);
    assert.equal(fixed.body.corrected, true);
    assert.equal(fixed.body.occurred_at, first.body.occurred_at, 'a field not sent keeps its stored value');
    assert.ok(fixed.body.recorded_at > first.body.recorded_at, 'recorded_at is the time of the correction');

    const [row] = outcomeRows(pair.match_id, pair.lawyer_id);
    assert.equal(row.outcome, 'engaged');
    assert.equal(row.label, 1);
    assert.equal(row.note, 'no answer after two calls');
    const history = historyRows(pair.match_id, pair.lawyer_id);
    assert.equal(history.length, 1);
    assert.equal(history[0].outcome, 'no_response');
    assert.equal(history[0].label, 0);
    assert.equal(history[0].note, 'no answer after two calls');
    assert.equal(history[0].recorded_at, first.body.recorded_at);
    assert.equal(history[0].replaced_at, fixed.body.recorded_at);

    // The correction retried (its answer was lost, say): identical to what is stored, so 200 and
    // nothing written, although its previous_outcome no longer matches.
    const retry = await record({ ...pair, outcome: 'engaged', previous_outcome: 'no_response' });
    assert.equal(retry.status, 200);
    assert.deepEqual(retry.body, fixed.body);
    assert.equal((await record({ ...pair, outcome: 'engaged' })).status, 200);
    assert.equal(historyRows(pair.match_id, pair.lawyer_id).length, 1);
    // ... and the old outcome is now a conflict.
    assert.equal((await record({ ...pair, outcome: 'no_response' })).status, 409);

    // A correction of the time only (same outcome) names the outcome too.
    const when = new Date(Date.parse(first.body.occurred_at) + 1000).toISOString();
    const retimed = await record({ ...pair, outcome: 'engaged', occurred_at: when, previous_outcome: 'engaged' });
    assert.equal(retimed.status, 200, JSON.stringify(retimed.body));
    assert.equal(retimed.body.occurred_at, when);
    assert.equal(historyRows(pair.match_id, pair.lawyer_id).length, 2);
  });

  test('a replayed older correction is harmless: 409, the later correction and its note stay, the audit trail is unchanged', async () => {
    const m = await match({ ...CASE, limit: 1 });
    const pair = { match_id: m.match_id, lawyer_id: m.lawyers[0].id };
    assert.equal((await record({ ...pair, outcome: 'no_response' })).status, 201);
    const older = { ...pair, outcome: 'declined', previous_outcome: 'no_response', note: 'the office said no' };
    assert.equal((await record(older)).status, 200);
    const later = await record({ ...pair, outcome: 'engaged', previous_outcome: 'declined', note: 'engaged after all' });
    assert.equal(later.status, 200);
    const trail = historyRows(pair.match_id, pair.lawyer_id);
    assert.deepEqual(trail.map((h) => h.outcome), ['no_response', 'declined']);

    const replay = await record(older);
    assert.equal(replay.status, 409, JSON.stringify(replay.body));
    assert.equal(replay.body.stored_outcome, 'engaged');
    assert.deepEqual(replay.body.existing, later.body);
    const [row] = outcomeRows(pair.match_id, pair.lawyer_id);
    assert.deepEqual([row.outcome, row.note], ['engaged', 'engaged after all'], 'the replay\'s note is not attached to the later outcome');
    assert.deepEqual(historyRows(pair.match_id, pair.lawyer_id), trail);
  });

  test('a first record needs no previous_outcome; one that names an outcome is 409 and stores nothing', async () => {
    const m = await match({ ...CASE, limit: 2 });
    const [a, b] = m.lawyers.map((l) => l.id);
    const wrong = await record({ match_id: m.match_id, lawyer_id: a, outcome: 'engaged', previous_outcome: 'declined' });
    assert.equal(wrong.status, 409, JSON.stringify(wrong.body));
    assert.equal(wrong.body.field, 'previous_outcome');
    assert.equal(wrong.body.stored_outcome, null);
    assert.match(wrong.body.error, /no outcome is recorded/);
    assert.equal(outcomeRows(m.match_id, a).length, 0);
    const withNull = await record({ match_id: m.match_id, lawyer_id: a, outcome: 'engaged', previous_outcome: null });
    assert.equal(withNull.status, 201, JSON.stringify(withNull.body));
    const flagged = await record({ match_id: m.match_id, lawyer_id: b, outcome: 'declined', correction: true });
    assert.equal(flagged.status, 201);
    assert.equal(flagged.body.corrected, false);
  });

  test('404 for an unknown match, and for a lawyer that match did not show', async () => {
    const unknown = await record({ match_id: 'f'.repeat(32), lawyer_id: 1, outcome: 'engaged' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.field, 'match_id');
    assert.match(unknown.body.error, /no match/);

    const top3 = await match({ ...CASE, limit: 3 });
    const all = await match({ ...CASE, limit: 200 });
    const shownIds = new Set(top3.lawyers.map((l) => l.id));
    const notShown = all.lawyers.map((l) => l.id).find((id) => !shownIds.has(id));
    for (const lawyerId of [notShown, 99999]) {
      const res = await record({ match_id: top3.match_id, lawyer_id: lawyerId, outcome: 'engaged' });
      assert.equal(res.status, 404, `lawyer ${lawyerId}`);
      assert.equal(res.body.field, 'lawyer_id');
      assert.match(res.body.error, new RegExp(`lawyer ${lawyerId} was not shown`));
    }
    assert.equal(q('SELECT COUNT(*) AS n FROM outcomes WHERE match_id = ?', top3.match_id)[0].n, 0);
    // Shown in the other match, so recordable there.
    assert.equal((await record({ match_id: all.match_id, lawyer_id: notShown, outcome: 'engaged' })).status, 201);
  });

  test('bad fields get 400 naming the field, and write nothing', async () => {
    const m = await match({ ...CASE, limit: 1 });
    const good = { match_id: m.match_id, lawyer_id: m.lawyers[0].id, outcome: 'engaged' };
    const { created_at: createdAt } = q('SELECT created_at FROM matches WHERE match_id = ?', m.match_id)[0];
    const drop = (field) => { const { [field]: _, ...rest } = good; return rest; };
    const cases = [
      [drop('match_id'), 'match_id'],
      [{ ...good, match_id: 'abc' }, 'match_id'],
      [{ ...good, match_id: `${m.match_id}0` }, 'match_id'],
      [{ ...good, match_id: `${m.match_id.slice(1)}z` }, 'match_id'],
      [{ ...good, match_id: 12345 }, 'match_id'],
      [drop('lawyer_id'), 'lawyer_id'],
      [{ ...good, lawyer_id: String(good.lawyer_id) }, 'lawyer_id'],
      [{ ...good, lawyer_id: 1.5 }, 'lawyer_id'],
      [{ ...good, lawyer_id: 0 }, 'lawyer_id'],
      [{ ...good, lawyer_id: -3 }, 'lawyer_id'],
      [drop('outcome'), 'outcome'],
      [{ ...good, outcome: 'hired' }, 'outcome'],
      [{ ...good, outcome: 'Engaged' }, 'outcome'],
      [{ ...good, outcome: 1 }, 'outcome'],
      [{ ...good, occurred_at: 'yesterday' }, 'occurred_at'],
      [{ ...good, occurred_at: '2026-03-01T10:00:00' }, 'occurred_at'], // no time zone
      [{ ...good, occurred_at: '2026-02-30T10:00:00Z' }, 'occurred_at'],
      [{ ...good, occurred_at: 1767225600000 }, 'occurred_at'],
      [{ ...good, occurred_at: new Date(Date.now() + 10 * 60000).toISOString() }, 'occurred_at'], // the future
      [{ ...good, occurred_at: new Date(Date.parse(createdAt) - 1000).toISOString() }, 'occurred_at'], // before the match
      [{ ...good, previous_outcome: 'hired' }, 'previous_outcome'],
      [{ ...good, previous_outcome: '' }, 'previous_outcome'],
      [{ ...good, previous_outcome: 0 }, 'previous_outcome'],
      [{ ...good, correction: 'yes' }, 'correction'],
      [{ ...good, correction: 1 }, 'correction'],
      [{ ...good, note: 'x'.repeat(501) }, 'note'],
      [{ ...good, note: 42 }, 'note'],
      [{ ...good, label: 1 }, 'label'],
      [{ ...good, lawyer: 5 }, 'lawyer'],
      [[good], 'body'],
    ];
    for (const [json, field] of cases) {
      const res = await record(json);
      assert.equal(res.status, 400, `${field}: ${JSON.stringify(json).slice(0, 120)} -> ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(res.body.field, field, JSON.stringify(json).slice(0, 120));
      assert.ok(res.body.error.includes(field), res.body.error);
    }
    const bad = await api(backend.url, '/api/outcomes', { method: 'POST', raw: '{"match_id": ', headers: AUTH });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'body');
    assert.equal(outcomeRows(good.match_id, good.lawyer_id).length, 0, 'no bad request recorded anything');

    // The limits themselves are accepted: a 500-character note, a time 4 minutes ahead.
    const edge = await record({ ...good, note: 'x'.repeat(500), occurred_at: new Date(Date.now() + 4 * 60000).toISOString() });
    assert.equal(edge.status, 201, JSON.stringify(edge.body));
  });

  test('401 without the right bearer token, before the body is even read; nothing recorded', async () => {
    const m = await match({ ...CASE, limit: 1 });
    const good = { match_id: m.match_id, lawyer_id: m.lawyers[0].id, outcome: 'engaged' };
    for (const headers of [
      {},
      { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: `Basic ${Buffer.from(`intake:${TOKEN}`).toString('base64')}` },
      { authorization: TOKEN },
      { authorization: 'Bearer ' },
    ]) {
      const res = await record(good, { headers });
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.match(res.body.error, /Bearer/);
      assert.match(res.headers.get('www-authenticate'), /^Bearer/);
    }
    const garbage = await api(backend.url, '/api/outcomes', { method: 'POST', raw: '{"match_id": ' });
    assert.equal(garbage.status, 401, 'authentication comes before parsing');
    assert.equal(outcomeRows(good.match_id, good.lawyer_id).length, 0);
    assert.equal((await record(good, { headers: { authorization: `bearer  ${TOKEN}` } })).status, 201, 'the scheme is case-insensitive');
  });

  test('503 when OUTCOMES_TOKEN is not set, whatever the request; matching still works', async () => {
    const m = await match({ ...CASE, limit: 1 }, closed);
    assert.match(m.match_id, /^[0-9a-f]{32}$/);
    for (const headers of [AUTH, {}]) {
      const res = await record({ match_id: m.match_id, lawyer_id: m.lawyers[0].id, outcome: 'engaged' }, { headers, on: closed });
      assert.equal(res.status, 503);
      assert.deepEqual(res.body, { error: 'outcome recording is not configured (set OUTCOMES_TOKEN)' });
    }
    assert.equal(closed.directory.db.prepare('SELECT COUNT(*) FROM outcomes').pluck().get(), 0);
  });

  test('the schema itself refuses what the API refuses', () => {
    const db = backend.directory.db;
    const [free] = q(`SELECT match_id, lawyer_id FROM match_lawyers ml WHERE NOT EXISTS
      (SELECT 1 FROM outcomes o WHERE o.match_id = ml.match_id AND o.lawyer_id = ml.lawyer_id) LIMIT 1`);
    const insert = db.prepare(`INSERT INTO outcomes (match_id, lawyer_id, outcome, label, occurred_at, recorded_at)
      VALUES (?, ?, ?, ?, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`);
    assert.throws(() => db.prepare("INSERT INTO matches VALUES ('abc', 'now', 'v')").run(), /CHECK/);
    assert.throws(() => db.prepare(`INSERT INTO matches VALUES ('${'G'.repeat(32)}', 'now', 'v')`).run(), /CHECK/);
    assert.throws(() => insert.run(free.match_id, free.lawyer_id, 'hired', 1), /CHECK/);
    assert.throws(() => insert.run(free.match_id, free.lawyer_id, 'declined', 1), /CHECK/, 'label follows outcome');
    assert.throws(() => insert.run('e'.repeat(32), 1, 'engaged', 1), /FOREIGN KEY/, 'only shown pairs');
    // and the valid row goes in (inside a transaction rolled back, to leave the data as it was)
    assert.throws(() => db.transaction(() => { insert.run(free.match_id, free.lawyer_id, 'engaged', 1); throw new Error('rollback'); })(), /rollback/);
  });
});

describe('npm run export-outcomes', () => {
  const SCRIPT = path.join(BACKEND, 'scripts', 'export_outcomes.js');

  /** Run the exporter (node, or `npm run` with npm: true); returns { code, stdout, stderr }. */
  function run(args, { env = {}, npm = false, cwd = BACKEND } = {}) {
    const [cmd, argv] = npm ? ['npm', ['--prefix', BACKEND, 'run', '--silent', 'export-outcomes', '--', ...args]]
      : [process.execPath, [SCRIPT, ...args]];
    const proc = spawn(cmd, argv, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c) => { stdout += c; });
    proc.stderr.on('data', (c) => { stderr += c; });
    return new Promise((resolve) => proc.once('close', (code) => resolve({ code, stdout, stderr })));
  }
  const lines = (file) => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

  let dir;
  let own;       // a backend over its own database file, so the export's content is known
  let dbPath;
  let m;         // its one match, 3 lawyers shown
  let since;     // between the first three records and the correction
  const expected = new Map();

  before(async () => {
    dir = tempDir('legalaid-export-');
    dbPath = path.join(dir, 'lawyers.db');
    own = await startBackend({ mlUrl: ml.url, outcomesToken: TOKEN, dbPath });
    m = await match({ ...CASE, limit: 3 }, own);
    await match({ ...CASE, limit: 3 }, own); // a match without outcomes: not exported
    const [a, b, c] = m.lawyers.map((l) => l.id);
    await sleep(20);
    const occurred = new Date(Date.now() - 10).toISOString(); // after the match, before the record
    for (const [id, outcome, extra] of [[a, 'engaged', { occurred_at: occurred }], [b, 'declined', {}], [c, 'no_response', {}]]) {
      const res = await record({ match_id: m.match_id, lawyer_id: id, outcome, ...extra }, { on: own });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    await sleep(10);
    since = new Date().toISOString();
    await sleep(10);
    const fixed = await record({ match_id: m.match_id, lawyer_id: b, outcome: 'engaged', previous_outcome: 'declined' }, { on: own });
    assert.equal(fixed.status, 200);
    for (const r of own.directory.db.prepare('SELECT * FROM outcomes').all()) expected.set(r.lawyer_id, r);
    assert.equal(expected.size, 3);
  });

  after(async () => {
    await own?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('writes one JSON line per outcome, corrections applied, and leaves no temporary file', async () => {
    const outDir = path.join(dir, 'out-all');
    fs.mkdirSync(outDir);
    const out = path.join(outDir, 'outcomes.jsonl');
    const res = await run(['--out', out, '--db', dbPath]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr.trim(), /^exported 3 outcomes to /);
    assert.equal(res.stderr.trim().split('\n').length, 1, 'one line');
    assert.deepEqual(fs.readdirSync(outDir), ['outcomes.jsonl'], 'the temporary file was renamed into place');
    assert.equal(fs.statSync(out).mode & 0o777, 0o600, 'created 0600');
    // Its own earlier export may be replaced (a nightly job writing the same name).
    const again = await run(['--out', out, '--db', dbPath]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(fs.readdirSync(outDir), ['outcomes.jsonl']);
    const got = lines(out);
    assert.equal(got.length, 3);
    for (const line of got) {
      assert.deepEqual(Object.keys(line).sort(), EXPORT_KEYS);
      const row = expected.get(line.lawyer_id);
      assert.ok(row, `lawyer ${line.lawyer_id} was recorded`);
      assert.equal(line.match_id, m.match_id);
      assert.equal(line.model_version, m.model_version);
      for (const key of ['outcome', 'label', 'occurred_at', 'recorded_at']) assert.equal(line[key], row[key], key);
    }
    const byLawyer = Object.fromEntries(got.map((l) => [l.lawyer_id, [l.outcome, l.label]]));
    const [a, b, c] = m.lawyers.map((l) => l.id);
    assert.deepEqual(byLawyer, { [a]: ['engaged', 1], [b]: ['engaged', 1], [c]: ['no_response', 0] }, 'the corrected outcome, not the replaced one');
    assert.equal(got[2].lawyer_id, b, 'oldest recorded first: the correction last');
  });

  test('--since keeps only what was recorded or corrected since; DB_PATH is the default database; npm run works', async () => {
    const out = path.join(dir, 'since.jsonl');
    const res = await run(['--out', out, '--since', since], { env: { DB_PATH: dbPath }, npm: true });
    assert.equal(res.code, 0, res.stderr);
    const got = lines(out);
    assert.deepEqual(got.map((l) => [l.lawyer_id, l.outcome]), [[m.lawyers[1].id, 'engaged']]);
    assert.match(res.stderr, /exported 1 outcome to/);

    const future = await run(['--out', out, '--db', dbPath, '--since', '2999-01-01']);
    assert.equal(future.code, 0, future.stderr);
    assert.equal(fs.readFileSync(out, 'utf8'), '', 'nothing recorded since: an empty file');
  });

  test('a database without outcomes exports an empty file', async () => {
    const out = path.join(dir, 'none.jsonl');
    const res = await run(['--out', out, '--db', path.join(closed.directory.path)]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(fs.readFileSync(out, 'utf8'), '');
    assert.match(res.stderr, /exported 0 outcomes/);
  });

  test('bad arguments: exit 2 naming the argument, no file written, no database created', async () => {
    const out = path.join(dir, 'never.jsonl');
    const missingDb = path.join(dir, 'missing', 'nothing.db');
    for (const [args, name] of [
      [['--out'], '--out'],
      [['--out', path.join(dir, 'no-such-folder', 'x.jsonl'), '--db', dbPath], '--out'],
      [['--out', dir, '--db', dbPath], '--out'],
      [['--out', out, '--db', dbPath, '--since', 'last week'], '--since'],
      [['--out', out, '--db', dbPath, '--since', '2026-02-30'], '--since'],
      [['--out', out, '--db', dbPath, '--format', 'csv'], '--format'],
      [['--out', out, '--db', missingDb], '--db'],
      [['--out', out, '--db', dbPath, '--db', dbPath], '--db'],
    ]) {
      const res = await run(args);
      assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
      assert.ok(res.stderr.includes(name), `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, /usage: npm run export-outcomes/);
    }
    assert.equal(fs.existsSync(out), false);
    assert.equal(fs.existsSync(missingDb), false, 'no empty database was created');
    assert.equal(fs.existsSync(path.dirname(missingDb)), false);

    const noEnvDb = await run(['--out', out], { env: { DB_PATH: missingDb } });
    assert.equal(noEnvDb.code, 2, noEnvDb.stderr);
    assert.match(noEnvDb.stderr, /DB_PATH/);
    assert.equal(fs.existsSync(missingDb), false);
  });

  test('without --out: a new 0600 file outcomes-<UTC time>.jsonl in OUTCOME_EXPORT_DIR, the folder made 0700', async () => {
    const exportDir = path.join(dir, 'exports-home', 'exports');
    const t0 = new Date();
    const res = await run(['--db', dbPath], { env: { OUTCOME_EXPORT_DIR: exportDir }, npm: true });
    assert.equal(res.code, 0, res.stderr);
    const files = fs.readdirSync(exportDir);
    assert.equal(files.length, 1, files.join(', '));
    const m2 = /^outcomes-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z\.jsonl$/.exec(files[0]);
    assert.ok(m2, files[0]);
    const stamped = Date.UTC(+m2[1], +m2[2] - 1, +m2[3], +m2[4], +m2[5], +m2[6]);
    assert.ok(stamped >= Math.floor(t0.getTime() / 1000) * 1000 && stamped <= Date.now(), `${files[0]} is the UTC time of the export`);
    assert.ok(res.stderr.includes(path.join(exportDir, files[0])), res.stderr);
    assert.equal(lines(path.join(exportDir, files[0])).length, 3);
    assert.equal(fs.statSync(path.join(exportDir, files[0])).mode & 0o777, 0o600);
    assert.equal(fs.statSync(exportDir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.dirname(exportDir)).mode & 0o777, 0o700, 'every folder it made');

    // A second export in the same second gets a name of its own; the first is kept.
    const second = await run(['--db', dbPath], { env: { OUTCOME_EXPORT_DIR: exportDir } });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(fs.readdirSync(exportDir).length, 2);
  });

  test('refuses to write onto the database, its WAL, a link to it, or any file that is not an earlier export: exit 2, nothing changed', async () => {
    const sub = path.join(dir, 'refuse');
    fs.mkdirSync(sub);
    // A database of its own (a copy), so that nothing the backend holds is at stake.
    const db = path.join(sub, 'X.db');
    own.directory.db.prepare('VACUUM INTO ?').run(db);
    const wal = new Database(db);
    wal.pragma('journal_mode = WAL');
    wal.prepare('SELECT COUNT(*) FROM outcomes').get(); // keeps X.db-wal and X.db-shm while open
    const hard = path.join(sub, 'hard.db');
    fs.linkSync(db, hard);
    const soft = path.join(sub, 'soft.jsonl');
    fs.symlinkSync(db, soft);
    const notes = path.join(sub, 'notes.txt');
    fs.writeFileSync(notes, 'an older export\n');
    const otherDb = path.join(sub, 'other.db');
    new Database(otherDb).exec('CREATE TABLE t (x)').close();
    const half = path.join(sub, 'half.jsonl');
    const good = fs.readFileSync(path.join(dir, 'out-all', 'outcomes.jsonl'), 'utf8');
    fs.writeFileSync(half, good.slice(0, -10)); // an export cut short: the last line is broken
    const foreign = path.join(sub, 'foreign.jsonl');
    fs.writeFileSync(foreign, `${good}${JSON.stringify({ match_id: m.match_id, lawyer_id: 1, outcome: 'engaged' })}\n`);
    const predictions = path.join(sub, 'predictions.jsonl');
    fs.writeFileSync(predictions, '{"prediction_id": "x", "case_type": ["family"]}\n');

    const cases = [
      [db, /it is the database being exported/],
      [`${db}-wal`, /the database's wal file/],
      [`${db}-shm`, /the database's shm file/],
      [hard, /it is the database being exported/],
      [soft, /it is the database being exported/],
      [notes, /not an earlier export .*line 1 is not JSON/],
      [otherDb, /SQLite database/],
      [half, /not an earlier export/],
      [foreign, /not an earlier export .*last line does not have exactly the keys/],
      [predictions, /not an earlier export .*line 1 does not have exactly the keys/],
      ['/dev/null', /not a regular file/],
    ];
    const before = new Map(cases.filter(([f]) => f !== '/dev/null').map(([f]) => [f, fs.readFileSync(f)]));
    const dbSize = fs.statSync(db).size;
    for (const [out, why] of cases) {
      const res = await run(['--out', out, '--db', db]);
      assert.equal(res.code, 2, `${out}: ${res.stderr}`);
      assert.ok(res.stderr.includes(`refusing to write onto ${out}`), res.stderr);
      assert.match(res.stderr, why);
    }
    for (const [f, bytes] of before) assert.ok(fs.readFileSync(f).equals(bytes), `${f} unchanged`);
    assert.ok(fs.lstatSync(soft).isSymbolicLink(), 'the link is still a link');
    assert.deepEqual(fs.readdirSync(sub).filter((f) => f.endsWith('.tmp')), [], 'no temporary file');
    // The database is whole: still a database with its outcomes.
    assert.equal(wal.prepare('SELECT COUNT(*) FROM outcomes').pluck().get(), 3);
    wal.close();
    assert.ok(fs.statSync(db).size >= dbSize);
    const check = new Database(db, { readonly: true });
    assert.equal(check.pragma('integrity_check', { simple: true }), 'ok');
    check.close();

    // The same database through DB_PATH, with --out the database itself: refused too.
    const viaEnv = await run(['--out', 'X.db'], { env: { DB_PATH: db }, npm: true, cwd: sub });
    assert.equal(viaEnv.code, 2, viaEnv.stderr);
    assert.match(viaEnv.stderr, /it is the database being exported/);

    // An empty file is accepted (touch FILE before a first export).
    const empty = path.join(sub, 'empty.jsonl');
    fs.writeFileSync(empty, '');
    const ok = await run(['--out', empty, '--db', db]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(lines(empty).length, 3);
  });

  test('a file that is not a migrated database: exit 1, and no temporary file is left', async () => {
    const sub = path.join(dir, 'old-db');
    fs.mkdirSync(sub);
    const old = path.join(sub, 'old.db');
    new Database(old).exec('CREATE TABLE t (x)').close();
    const res = await run(['--out', path.join(sub, 'out.jsonl'), '--db', old]);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /no outcomes table/);
    assert.deepEqual(fs.readdirSync(sub).filter((f) => !/^old\.db/.test(f)), []);
  });
});
