// The order a client sees: lawyers who practise the case type and speak the client's language
// first (each group in the model's order), and, when matching is unavailable, the same lawyers in
// a plain order (nearest first) with the help line instead of an apology. Real backend and SQLite;
// small local HTTP servers play the match service (the real one: api.test.mjs).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { backendRequire, startBackend, startFakeService, freePort, api, CASE } from './helpers.mjs';

const { isEligible, mergeRanking, plainOrder, buildCandidates, originOf } = backendRequire('./lib/match.js');
const { helplineFrom, loadConfig, DEFAULT_HELPLINE_PHONE } = backendRequire('./lib/config.js');
const DIRECTORY = backendRequire('./data/lawyers.json');

const PID = '0123456789abcdef0123456789abcdef';
const HELPLINE = Object.freeze({ phone: '+1 312-555-0142' });

/** A profile as lib/db.js gives it, with only what ordering reads. */
const lawyer = (id, specialization, languages, name = `Lawyer ${id}`) => ({ id, name, specialization, languages, region: 'north' });

/**
 * A stand-in /rank that scores the lawyers who do NOT fit the case highest: if the backend simply
 * followed the model, they would come first. Scores fall with the position sent, so order is known.
 */
function rankingNonSpecialistsFirst(caseFields) {
  return (req, res, body) => {
    if (req.url === '/health') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    const { lawyers } = JSON.parse(body);
    const score = (l, i) => (l.lawyer_specialization === caseFields.case_type ? 0.1 : 0.6) + 0.3 * (1 - i / lawyers.length);
    const ranking = lawyers.map((l, i) => ({ lawyer_id: l.lawyer_id, match_probability: Math.round(score(l, i) * 1e6) / 1e6 }))
      .sort((a, b) => b.match_probability - a.match_probability);
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ model_version: 'fake-1', prediction_id: PID, ranking }));
  };
}

describe('eligibility (lib/match.js)', () => {
  test('eligible: practises the case type AND lists the client\'s language (no interpreter field exists)', () => {
    const c = { case_type: 'housing', client_language: 'ar' };
    assert.equal(isEligible(c, lawyer(1, 'housing', ['en', 'ar'])), true);
    assert.equal(isEligible(c, lawyer(2, 'housing', ['en'])), false, 'the type but not the language');
    assert.equal(isEligible(c, lawyer(3, 'family', ['ar'])), false, 'the language but not the type');
    assert.equal(isEligible(c, lawyer(4, 'family', ['en'])), false);
  });

  test('mergeRanking: the eligible first, then the others, each group in the model\'s order, then the limit', () => {
    const c = { case_type: 'housing', client_language: 'es' };
    const profiles = [
      lawyer(1, 'civil_rights', ['es']), lawyer(2, 'housing', ['es']), lawyer(3, 'employment', ['en']),
      lawyer(4, 'housing', ['en', 'es']), lawyer(5, 'housing', ['en']),
    ];
    const ranking = [[1, 0.9], [3, 0.8], [5, 0.7], [4, 0.4], [2, 0.3]].map(([id, p]) => ({ lawyer_id: id, match_probability: p }));
    const distances = new Map(profiles.map((p) => [p.id, p.id * 10]));
    const all = mergeRanking(ranking, profiles, distances, 10, c);
    assert.deepEqual(all.map((l) => l.id), [4, 2, 1, 3, 5]);
    assert.deepEqual(all.map((l) => l.eligible), [true, true, false, false, false]);
    assert.deepEqual(all.map((l) => l.match_probability), [0.4, 0.3, 0.9, 0.8, 0.7], 'the model\'s numbers, unchanged');
    assert.equal(all[0].distance_km, 40);
    assert.deepEqual(mergeRanking(ranking, profiles, distances, 3, c).map((l) => l.id), [4, 2, 1], 'the limit cuts after the grouping');
    // A mis-ordered answer is sorted before grouping, as before.
    assert.deepEqual(mergeRanking([...ranking].reverse(), profiles, distances, 10, c).map((l) => l.id), [4, 2, 1, 3, 5]);
  });

  test('plainOrder: eligible nearest first, then those who fit one way, then the rest; ties by name; no probability', () => {
    const c = { case_type: 'housing', client_language: 'es' };
    const profiles = [
      lawyer(1, 'family', ['en'], 'Ann'),        // neither, nearest of all
      lawyer(2, 'housing', ['es'], 'Zoe'),       // eligible, 30 km
      lawyer(3, 'housing', ['en', 'es'], 'Bea'), // eligible, 30 km: before Zoe by name
      lawyer(4, 'family', ['es'], 'Cal'),        // the language only, 20 km
      lawyer(5, 'housing', ['en'], 'Dan'),       // the type only, 5 km
    ];
    const distances = new Map([[1, 1], [2, 30], [3, 30], [4, 20], [5, 5]]);
    const list = plainOrder(profiles, distances, 10, c);
    assert.deepEqual(list.map((l) => l.id), [3, 2, 5, 4, 1]);
    assert.deepEqual(list.map((l) => l.eligible), [true, true, false, false, false]);
    assert.ok(list.every((l) => !('match_probability' in l)));
    assert.deepEqual(plainOrder(profiles, distances, 2, c).map((l) => l.id), [3, 2]);
  });
});

describe('the help line setting (lib/config.js)', () => {
  test('HELPLINE_PHONE: a placeholder by default, a real number when set, a clear error when not a number', () => {
    assert.deepEqual(helplineFrom({}), { phone: DEFAULT_HELPLINE_PHONE });
    assert.match(DEFAULT_HELPLINE_PHONE, /555-01\d\d$/, 'the default is a number reserved for fiction');
    assert.deepEqual(helplineFrom({ HELPLINE_PHONE: ' +44 (20) 7946-0958 ' }), { phone: '+44 (20) 7946-0958' });
    assert.deepEqual(loadConfig({ HELPLINE_PHONE: '0800 123 456' }).helpline, { phone: '0800 123 456' });
    for (const bad of ['call us', '12', '+1 800 555 0199 ext. 4', 'javascript:alert(1)', '()-- --()+']) {
      assert.throws(() => helplineFrom({ HELPLINE_PHONE: bad }), /HELPLINE_PHONE must be/, bad);
      assert.throws(() => loadConfig({ HELPLINE_PHONE: bad }), /HELPLINE_PHONE/, bad);
    }
  });
});

describe('POST /api/match orders by eligibility', () => {
  test('a model that prefers non-specialists cannot put them above the lawyers who fit the case', async () => {
    const json = { ...CASE, case_type: 'housing', client_language: 'es', limit: 40 };
    const fake = await startFakeService(rankingNonSpecialistsFirst(json));
    const backend = await startBackend({ mlUrl: fake.url, helpline: HELPLINE });
    try {
      const { status, body } = await api(backend.url, '/api/match', { method: 'POST', json });
      assert.equal(status, 200);
      assert.equal(body.ranked, true);
      assert.deepEqual(body.helpline, HELPLINE);
      const eligibleInDirectory = DIRECTORY.filter((l) => l.specialization === 'housing' && l.languages.includes('es')).length;
      assert.ok(eligibleInDirectory >= 3 && eligibleInDirectory < 40, `${eligibleInDirectory} eligible`);
      const flags = body.lawyers.map((l) => l.eligible);
      assert.equal(flags.filter(Boolean).length, eligibleInDirectory, 'every eligible lawyer is within the first 40');
      assert.equal(flags.indexOf(false), eligibleInDirectory, 'no other lawyer before the last eligible one');
      for (const l of body.lawyers.slice(0, eligibleInDirectory)) {
        assert.equal(l.specialization, 'housing');
        assert.ok(l.languages.includes('es'));
      }
      // Within each group, the model's order.
      for (const part of [body.lawyers.slice(0, eligibleInDirectory), body.lawyers.slice(eligibleInDirectory)]) {
        const p = part.map((l) => l.match_probability);
        for (let i = 1; i < p.length; i++) assert.ok(p[i - 1] >= p[i], `descending within a group: ${p}`);
      }
      // What was shown is what was stored, in the order shown.
      const stored = backend.directory.db.prepare('SELECT lawyer_id FROM match_lawyers WHERE match_id = ? ORDER BY rank').pluck().all(PID);
      assert.deepEqual(stored, body.lawyers.map((l) => l.id));
    } finally {
      await backend.close();
      await fake.close();
    }
  });

  test('GET /api/helpline gives the configured number, for the page to hold before any search', async () => {
    const backend = await startBackend({ mlUrl: `http://127.0.0.1:${await freePort()}`, helpline: HELPLINE });
    try {
      const { status, body, headers } = await api(backend.url, '/api/helpline');
      assert.equal(status, 200);
      assert.deepEqual(body, HELPLINE);
      assert.equal(headers.get('cache-control'), 'no-store');
    } finally {
      await backend.close();
    }
  });
});

describe('POST /api/match when matching is unavailable', () => {
  /** The eligible lawyers of the directory for a case, nearest first (ties by name, then id). */
  function expectedEligible(json, backend) {
    const profiles = backend.directory.all();
    const { distances } = buildCandidates(json, originOf(json, null), profiles);
    return profiles.filter((p) => isEligible(json, p))
      .sort((a, b) => distances.get(a.id) - distances.get(b.id) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || a.id - b.id)
      .map((p) => p.id);
  }

  function assertUnranked(res, reason, json, backend) {
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300));
    const b = res.body;
    assert.equal(b.ranked, false);
    assert.equal(b.reason, reason);
    assert.equal(b.order, 'distance');
    assert.equal(b.match_id, null, 'nothing to refer to: no prediction was made');
    assert.equal(b.model_version, null);
    assert.deepEqual(b.helpline, HELPLINE, 'the help line from the configuration');
    for (const k of Object.keys(CASE)) assert.equal(b.case[k], json[k], `case.${k}`);
    const eligible = expectedEligible(json, backend);
    const shown = b.lawyers.map((l) => l.id);
    assert.deepEqual(shown.slice(0, eligible.length), eligible.slice(0, shown.length), 'the eligible ones, nearest first');
    const d = b.lawyers.filter((l) => l.eligible).map((l) => l.distance_km);
    for (let i = 1; i < d.length; i++) assert.ok(d[i - 1] <= d[i], `nearest first: ${d}`);
    for (const l of b.lawyers) {
      assert.equal('match_probability' in l, false, 'no percentage without a model');
      assert.equal(l.reasons.length, 6, 'the plain facts are still given');
      assert.match(l.contact.phone, /555/);
    }
    assert.equal(backend.directory.db.prepare('SELECT COUNT(*) FROM matches').pluck().get(), 0, 'no match is stored');
    assert.doesNotMatch(JSON.stringify(b), /ECONNREFUSED|Error:|stack/i, 'no internals reach the client');
  }

  test('the match service down (nothing listening): 200, ranked false, eligible nearest first, the help line', async () => {
    const json = { ...CASE, case_type: 'housing', urgency: 'high', client_language: 'en', client_income: 9000, limit: 40 };
    const backend = await startBackend({ mlUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 500, helpline: HELPLINE });
    try {
      const res = await api(backend.url, '/api/match', { method: 'POST', json });
      assertUnranked(res, 'unavailable', json, backend);
      assert.equal(res.body.lawyers.length, 40);
      assert.equal(res.body.lawyers.filter((l) => l.eligible).length, expectedEligible(json, backend).length);
      assert.ok(backend.logs.some((l) => /match service unavailable.*ECONNREFUSED.*answered unranked/.test(l)), backend.logs.join(' | '));
      // Few eligible lawyers (housing in Chinese: one): the others follow, labelled as not eligible.
      const zh = { ...json, client_language: 'zh', limit: 10 };
      const few = await api(backend.url, '/api/match', { method: 'POST', json: zh });
      assertUnranked(few, 'unavailable', zh, backend);
      const n = expectedEligible(zh, backend).length;
      assert.ok(n >= 1 && n < 10, `${n} eligible`);
      assert.deepEqual(few.body.lawyers.map((l) => l.eligible), [...Array(n).fill(true), ...Array(10 - n).fill(false)]);
    } finally {
      await backend.close();
    }
  });

  test('the match service too slow: the same plain list, reason timeout', async () => {
    const fake = await startFakeService((req, res) => {
      const t = setTimeout(() => res.writeHead(200).end('{}'), 10000);
      res.on('close', () => clearTimeout(t));
    });
    const json = { ...CASE, case_type: 'family', client_language: 'es' };
    const backend = await startBackend({ mlUrl: fake.url, timeoutMs: 300, helpline: HELPLINE });
    try {
      assertUnranked(await api(backend.url, '/api/match', { method: 'POST', json }), 'timeout', json, backend);
    } finally {
      await backend.close();
      await fake.close();
    }
  });

  test('without HELPLINE_PHONE the answer carries the placeholder default, never nothing', async () => {
    const backend = await startBackend({ mlUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 500 });
    try {
      const { body } = await api(backend.url, '/api/match', { method: 'POST', json: CASE });
      assert.equal(body.ranked, false);
      assert.deepEqual(body.helpline, helplineFrom(process.env));
    } finally {
      await backend.close();
    }
  });
});

describe('POST /api/match, unranked, with a category the model does not know', () => {
  test('the warning the service would have given is still given, and nobody is called eligible', async () => {
    const backend = await startBackend({ mlUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 500, helpline: HELPLINE });
    try {
      const { status, body } = await api(backend.url, '/api/match', { method: 'POST', json: { ...CASE, case_type: 'maritime' } });
      assert.equal(status, 200);
      assert.equal(body.ranked, false);
      assert.deepEqual(body.warnings.map((w) => [w.field, w.value]), [['case_type', 'maritime']]);
      assert.equal(body.lawyers.filter((l) => l.eligible).length, 0);
      assert.equal(body.lawyers.length, 10);
    } finally {
      await backend.close();
    }
  });
});
