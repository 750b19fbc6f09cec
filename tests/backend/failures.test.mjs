// The match service down, slow or answering garbage: always a quick answer in JSON, never a hang,
// never a stack trace. The client still gets a list (200, `ranked: false`: the lawyers who fit the
// case, nearest first, and the help line; tests/backend/ranking.test.mjs checks the list itself);
// the cause is logged for the operators, and nothing is stored. Real backend and SQLite; tiny local
// HTTP servers play the broken service.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startBackend, startFakeService, freePort, api, CASE } from './helpers.mjs';

const TIMEOUT_MS = 400;

/** POST /api/match against a backend whose match service is `mlUrl`; returns the response. */
async function matchThrough(mlUrl, { timeoutMs = TIMEOUT_MS } = {}) {
  const backend = await startBackend({ mlUrl, timeoutMs });
  try {
    const res = await api(backend.url, '/api/match', { method: 'POST', json: CASE });
    const health = await api(backend.url, '/api/health');
    const matches = backend.directory.db.prepare('SELECT COUNT(*) FROM matches').pluck().get();
    return { ...res, health, logs: backend.logs, matches };
  } finally {
    await backend.close();
  }
}

/** Matching unavailable: 200 with the plain list (no percentages), the help line, and the reason. */
function assertUnranked(res, reason) {
  assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300));
  assert.match(res.headers.get('content-type'), /application\/json/);
  assert.equal(res.body.ranked, false);
  assert.equal(res.body.reason, reason);
  assert.equal(res.body.match_id, null);
  assert.match(res.body.helpline.phone, /\d/);
  assert.equal(res.body.lawyers.length, 10);
  assert.ok(res.body.lawyers.every((l) => !('match_probability' in l)));
  assert.equal(res.matches, 0, 'nothing is stored without a prediction');
  const text = JSON.stringify(res.body);
  assert.doesNotMatch(text, /\bat .+\.js:\d+|Error:|stack|Traceback/i, 'no stack trace reaches the client');
}

/** An answer the backend could not accept after ranking (a reused prediction_id): 503 in JSON. */
function assertClean503(res, reason) {
  assert.equal(res.status, 503, JSON.stringify(res.body));
  assert.match(res.headers.get('content-type'), /application\/json/);
  assert.equal(typeof res.body.error, 'string');
  assert.match(res.body.error, /match service/);
  assert.equal(res.body.reason, reason);
  const text = JSON.stringify(res.body);
  assert.doesNotMatch(text, /\bat .+\.js:\d+|Error:|stack/i, 'no stack trace reaches the client');
}

/** A fake /rank that answers `payload` (an object is sent as JSON, a string as is). */
function answering(payload, status = 200) {
  return (req, res) => {
    if (req.url === '/health') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok","model_version":"fake"}');
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
  };
}

describe('match service down', () => {
  test('nothing listening: the plain list at once, health says degraded', async () => {
    const port = await freePort();
    const res = await matchThrough(`http://127.0.0.1:${port}`);
    assertUnranked(res, 'unavailable');
    assert.ok(res.ms < TIMEOUT_MS + 500, `took ${res.ms} ms`);
    assert.equal(res.health.status, 200);
    assert.equal(res.health.body.status, 'degraded');
    assert.equal(res.health.body.ml_service.reachable, false);
    assert.ok(res.logs.some((l) => /ECONNREFUSED/.test(l)), 'the cause is logged on the server');
  });

  test('the connection is dropped mid-request: the plain list', async () => {
    const fake = await startFakeService((req, res) => req.socket.destroy());
    try {
      assertUnranked(await matchThrough(fake.url), 'unavailable');
    } finally {
      await fake.close();
    }
  });
});

describe('match service slow', () => {
  test('no answer within the timeout: the plain list soon after the timeout', async () => {
    const fake = await startFakeService((req, res) => {
      const t = setTimeout(() => answering({ model_version: 'late', ranking: [] })(req, res), 5000);
      res.on('close', () => clearTimeout(t));
    });
    try {
      const res = await matchThrough(fake.url);
      assertUnranked(res, 'timeout');
      assert.ok(res.logs.some((l) => l.includes(`did not answer within ${TIMEOUT_MS} ms`)), res.logs.join(' | '));
      assert.ok(res.ms >= TIMEOUT_MS - 20 && res.ms < TIMEOUT_MS + 1500, `took ${res.ms} ms`);
      assert.equal(res.health.body.status, 'degraded');
    } finally {
      await fake.close();
    }
  });

  test('headers at once but the body never finishes: still the plain list within the timeout', async () => {
    const fake = await startFakeService((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"model_version": "v1", "ranking": [');
    });
    try {
      const res = await matchThrough(fake.url);
      assertUnranked(res, 'timeout');
      assert.ok(res.ms < TIMEOUT_MS + 1500, `took ${res.ms} ms`);
    } finally {
      await fake.close();
    }
  });
});

describe('match service answering garbage', () => {
  // Each payload is valid but for its one defect, and the server log must name that defect, so a
  // case cannot pass because of some other check (a missing prediction_id, say).
  const PID = '0123456789abcdef0123456789abcdef';
  const ok = { model_version: 'v1', prediction_id: PID };
  const garbage = [
    ['not JSON at all', '<html>Bad Gateway</html>', /not JSON/],
    ['truncated JSON', `{"model_version": "v1", "prediction_id": "${PID}", "ranking": [{"lawyer_id": 1`, /not JSON/],
    ['a JSON list', [1, 2, 3], /not a JSON object/],
    ['no ranking', { ...ok }, /ranking is not a list/],
    ['ranking not a list', { ...ok, ranking: { 1: 0.5 } }, /ranking is not a list/],
    ['no model_version', { prediction_id: PID, ranking: [{ lawyer_id: 1, match_probability: 0.5 }] }, /model_version missing/],
    ['no prediction_id', { model_version: 'v1', ranking: [{ lawyer_id: 1, match_probability: 0.5 }] }, /prediction_id missing/],
    ['prediction_id too short', { ...ok, prediction_id: PID.slice(1), ranking: [] }, /prediction_id missing/],
    ['prediction_id not hex', { ...ok, prediction_id: `${PID.slice(1)}g`, ranking: [] }, /prediction_id missing/],
    ['prediction_id upper case', { ...ok, prediction_id: PID.toUpperCase(), ranking: [] }, /prediction_id missing/],
    ['prediction_id a number', { ...ok, prediction_id: 12345678901234567890, ranking: [] }, /prediction_id missing/],
    ['unknown lawyer id', { ...ok, ranking: [{ lawyer_id: 999999, match_probability: 0.5 }] }, /not a candidate/],
    ['probability above 1', { ...ok, ranking: [{ lawyer_id: 1, match_probability: 1.7 }] }, /not a probability/],
    ['probability a string', { ...ok, ranking: [{ lawyer_id: 1, match_probability: '0.5' }] }, /not a probability/],
    ['repeated lawyer', { ...ok, ranking: [{ lawyer_id: 1, match_probability: 0.5 }, { lawyer_id: 1, match_probability: 0.4 }] }, /repeated/],
    ['null entries', { ...ok, ranking: [null] }, /ranking\[0\] is not an object/],
  ];
  for (const [name, payload, detail] of garbage) {
    test(`${name}: the plain list`, async () => {
      const fake = await startFakeService(answering(payload));
      try {
        const res = await matchThrough(fake.url);
        assertUnranked(res, 'bad_response');
        assert.ok(res.logs.some((l) => /invalid response/.test(l) && detail.test(l)), `the log names the defect ${detail}: ${res.logs.join(' | ')}`);
        assert.equal(res.matches, 0, 'a refused answer records no match');
      } finally {
        await fake.close();
      }
    });
  }

  test('a prediction_id the service already used: 503, and the first match stays as it was', async () => {
    const fake = await startFakeService(answering({ ...ok, ranking: [{ lawyer_id: 3, match_probability: 0.9 }] }));
    const backend = await startBackend({ mlUrl: fake.url, timeoutMs: TIMEOUT_MS });
    try {
      const first = await api(backend.url, '/api/match', { method: 'POST', json: CASE });
      assert.equal(first.status, 200);
      assert.equal(first.body.match_id, PID);
      const again = await api(backend.url, '/api/match', { method: 'POST', json: { ...CASE, case_type: 'housing' } });
      assertClean503(again, 'bad_response');
      assert.ok(backend.logs.some((l) => /already used/.test(l)), backend.logs.join(' | '));
      const db = backend.directory.db;
      assert.equal(db.prepare('SELECT COUNT(*) FROM matches').pluck().get(), 1);
      assert.deepEqual(db.prepare('SELECT lawyer_id FROM match_lawyers').pluck().all(), [3]);
    } finally {
      await backend.close();
      await fake.close();
    }
  });

  test('an HTTP 500 from the service: the plain list, the service\'s words only in the log', async () => {
    const fake = await startFakeService(answering({ error: 'internal error; Traceback (most recent call last)' }, 500));
    try {
      const res = await matchThrough(fake.url);
      assertUnranked(res, 'bad_response');
      assert.ok(res.logs.some((l) => /HTTP 500.*Traceback/.test(l)), res.logs.join(' | '));
    } finally {
      await fake.close();
    }
  });

  test('a well-formed answer from a stand-in is used as given (sanity check of the fakes)', async () => {
    const fake = await startFakeService(answering({
      model_version: 'fake-1',
      prediction_id: 'fedcba9876543210fedcba9876543210',
      // Two lawyers who do not fit CASE (consumer and employment, English only): one group, so the
      // model's order alone decides (eligibility first: ranking.test.mjs).
      ranking: [{ lawyer_id: 1, match_probability: 0.2 }, { lawyer_id: 3, match_probability: 0.9 }],
    }));
    try {
      const res = await matchThrough(fake.url);
      assert.equal(res.status, 200);
      assert.equal(res.body.model_version, 'fake-1');
      assert.equal(res.body.match_id, 'fedcba9876543210fedcba9876543210');
      assert.equal(res.matches, 1);
      assert.deepEqual(res.body.lawyers.map((l) => l.id), [3, 1], 'sorted best first even if the service is not');
    } finally {
      await fake.close();
    }
  });
});
