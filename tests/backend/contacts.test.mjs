// What a client needs to act on a match: how to reach each lawyer (migration 005, the seed data)
// and why each one ranks where it does (lib/match.js explain(), from the features sent to the model).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { backendRequire, BACKEND, tempDir, startBackend, startFakeService, api, CASE } from './helpers.mjs';

const { openDirectory, migrate, listMigrations } = backendRequire('./lib/db.js');
const { explain, isEligible, REASON_RULES } = backendRequire('./lib/match.js');
const { contactFor } = backendRequire('./scripts/generate_lawyers.js');
const Database = backendRequire('better-sqlite3');
const SEED = JSON.parse(fs.readFileSync(path.join(BACKEND, 'data', 'lawyers.json'), 'utf8'));
const CONTACT_KEYS = ['email', 'intake_url', 'office_address', 'phone'];
const FACTORS = ['specialization', 'language', 'price', 'distance', 'caseload', 'record'];

describe('lawyer contacts in the directory', () => {
  test('the seed gives every lawyer a fictional but well-formed phone, email, office and intake URL', () => {
    const phones = new Set();
    for (const l of SEED) {
      assert.deepEqual(Object.keys(l.contact).sort(), CONTACT_KEYS, `lawyer ${l.id}`);
      assert.match(l.contact.phone, /^\+1 \d{3}-555-01\d{2}$/, 'a 555-01xx number, reserved for fiction');
      assert.match(l.contact.email, /^[a-z0-9.]+@example\.org$/);
      assert.match(l.contact.intake_url, /^https:\/\/example\.org\//);
      assert.match(l.contact.office_address, /Example Street.*\(fictional\)$/);
      assert.deepEqual(l.contact, contactFor(l.id, l.region), 'the generator\'s own rule');
      phones.add(l.contact.phone);
    }
    assert.equal(phones.size, SEED.length, 'no two lawyers share a number');
  });

  test('migration 005 gives the rows of an older database the same contacts a fresh one is seeded with', () => {
    const dir = tempDir();
    const file = path.join(dir, 'old.db');
    const upTo4 = path.join(dir, 'migrations');
    fs.mkdirSync(upTo4);
    for (const m of listMigrations().filter((x) => x.version <= 4)) fs.copyFileSync(m.file, path.join(upTo4, path.basename(m.file)));
    try {
      // A directory as it was before 005: seeded without contacts.
      const old = new Database(file);
      assert.deepEqual(migrate(old, upTo4), [1, 2, 3, 4]);
      const insert = old.prepare(`INSERT INTO lawyers (id, name, specialization, region, experience_years, rating,
        active_cases, hourly_rate, lat, lon) VALUES (@id, @name, @specialization, @region, @experience_years, @rating,
        @active_cases, @hourly_rate, @lat, @lon)`);
      const lang = old.prepare('INSERT INTO lawyer_languages (lawyer_id, language, position) VALUES (?, ?, ?)');
      old.transaction(() => {
        for (const l of SEED) {
          insert.run({ ...l, lat: l.location.lat, lon: l.location.lon });
          l.languages.forEach((code, i) => lang.run(l.id, code, i));
        }
      })();
      old.close();

      const d = openDirectory(file);
      assert.deepEqual(d.migrated, [5]);
      assert.equal(d.seeded, 0);
      assert.deepEqual(d.all(), SEED.map((l) => ({ ...l })).sort((a, b) => a.id - b.id), 'identical to a fresh seed, contacts included');
      d.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a lawyer may lack contacts (null), and the checks refuse what the page must not link to', () => {
    const dir = tempDir();
    try {
      const d = openDirectory(path.join(dir, 'l.db'));
      d.db.prepare('UPDATE lawyers SET phone = NULL, email = NULL, office_address = NULL, intake_url = NULL WHERE id = 1').run();
      assert.deepEqual(d.get(1).contact, { phone: null, email: null, office_address: null, intake_url: null });
      const set = (column, value) => () => d.db.prepare(`UPDATE lawyers SET ${column} = ? WHERE id = 2`).run(value);
      assert.throws(set('intake_url', 'javascript:alert(1)'), /CHECK/);
      assert.throws(set('intake_url', 'http://example.org/plain-http'), /CHECK/);
      assert.throws(set('intake_url', 'https://example.org/"><script>'), /CHECK/);
      assert.throws(set('phone', '555-CALL-NOW'), /CHECK/);
      assert.throws(set('email', 'not an email'), /CHECK/);
      assert.throws(set('email', 'a<b>@example.org'), /CHECK/);
      assert.throws(set('email', 'a@b.org?cc=x%40evil.example'), /CHECK/); // would add headers to a mailto: link
      assert.throws(set('office_address', ''), /CHECK/);
      set('phone', '(815) 555-0199')();
      set('email', 'intake@example.org')();
      assert.equal(d.get(2).contact.phone, '(815) 555-0199');
      d.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('reasons for a place in the ranking (explain)', () => {
  const features = {
    lawyer_id: 1, lawyer_specialization: 'family', lawyer_language: 'en', lawyer_region: 'north',
    lawyer_experience_years: 12, lawyer_rating: 4.5, lawyer_active_cases: 8, lawyer_hourly_rate: 365, distance_km: 3.2,
  };
  const byFactor = (reasons) => Object.fromEntries(reasons.map((r) => [r.factor, r]));

  test('the $365-an-hour lawyer for a client earning $22,000 a year: price counts against', () => {
    const r = byFactor(explain(CASE, features)); // CASE: family, Spanish, $22,000 a year
    assert.deepEqual(Object.keys(r), FACTORS);
    assert.equal(r.price.effect, 'minus');
    assert.equal(r.price.income_share_per_hour, Math.round((365 / (22000 / 12)) * 1000) / 1000); // about 20%
    assert.equal(r.specialization.effect, 'plus');
    assert.equal(r.language.effect, 'minus', 'the client wants Spanish');
    assert.equal(r.language.client_language, 'es');
    assert.equal(r.distance.effect, 'plus');
    assert.equal(r.caseload.effect, 'plus');
    assert.equal(r.record.effect, 'plus');
  });

  test('each factor follows its thresholds', () => {
    const R = REASON_RULES;
    const one = (f, c = CASE) => byFactor(explain(c, { ...features, ...f }));
    assert.equal(one({ lawyer_hourly_rate: 0 }).price.effect, 'plus');
    assert.equal(one({ lawyer_hourly_rate: 0 }).price.income_share_per_hour, null);
    assert.equal(one({ lawyer_hourly_rate: 100 }, { ...CASE, client_income: 0 }).price.effect, 'minus');
    assert.equal(one({ lawyer_hourly_rate: 100 }, { ...CASE, client_income: 0 }).price.income_share_per_hour, null);
    assert.equal(one({ lawyer_hourly_rate: 100 }, { ...CASE, client_income: 120000 }).price.effect, 'plus'); // 1%
    assert.equal(one({ lawyer_hourly_rate: 300 }, { ...CASE, client_income: 120000 }).price.effect, 'neutral'); // 3%
    assert.equal(one({ distance_km: R.distance_km.near }).distance.effect, 'plus');
    assert.equal(one({ distance_km: R.distance_km.far }).distance.effect, 'neutral');
    assert.equal(one({ distance_km: R.distance_km.far + 0.1 }).distance.effect, 'minus');
    assert.equal(one({ lawyer_active_cases: R.active_cases.heavy }).caseload.effect, 'minus');
    assert.equal(one({ lawyer_active_cases: 15 }).caseload.effect, 'neutral');
    assert.equal(one({ lawyer_rating: 3.0 }).record.effect, 'minus');
    assert.equal(one({ lawyer_language: 'es' }).language.effect, 'plus');
    assert.equal(one({ lawyer_specialization: 'housing' }).specialization.effect, 'minus');
  });
});

describe('POST /api/match gives contacts and reasons', () => {
  test('each shown lawyer carries its contacts and reasons computed from the very features sent to the model', async () => {
    let sent = null;
    const fake = await startFakeService((req, res, body) => {
      if (req.url !== '/rank') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      sent = JSON.parse(body);
      // Rank by lawyer_id descending, so the order is known; warnings are passed on as given.
      const ranking = sent.lawyers.map((l) => ({ lawyer_id: l.lawyer_id, match_probability: l.lawyer_id / 1000 }))
        .sort((a, b) => b.match_probability - a.match_probability);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ model_version: 'fake-2', prediction_id: 'a'.repeat(32), ranking, warnings: ['unknown value'] }));
    });
    const backend = await startBackend({ mlUrl: fake.url });
    try {
      const { status, body } = await api(backend.url, '/api/match', { method: 'POST', json: { ...CASE, limit: 5 } });
      assert.equal(status, 200);
      assert.deepEqual(body.warnings, ['unknown value'], 'the service\'s warnings are passed on');
      assert.ok(backend.logs.some((l) => /warnings/.test(l)), 'and logged for operators');
      // The service's order (id descending), with the lawyers who fit the case first (ranking.test.mjs).
      const byIdDesc = [...backend.directory.all()].sort((a, b) => b.id - a.id);
      const expected = [...byIdDesc.filter((p) => isEligible(CASE, p)), ...byIdDesc.filter((p) => !isEligible(CASE, p))];
      assert.deepEqual(body.lawyers.map((l) => l.id), expected.slice(0, 5).map((p) => p.id));
      const featuresById = new Map(sent.lawyers.map((f) => [f.lawyer_id, f]));
      for (const l of body.lawyers) {
        assert.deepEqual(l.contact, backend.directory.get(l.id).contact);
        assert.deepEqual(Object.keys(l.contact).sort(), CONTACT_KEYS);
        assert.deepEqual(l.reasons, explain(sent.case, featuresById.get(l.id)));
        const r = Object.fromEntries(l.reasons.map((x) => [x.factor, x]));
        assert.equal(r.distance.distance_km, l.distance_km);
        assert.equal(r.price.hourly_rate, l.hourly_rate);
        assert.equal(r.language.effect === 'plus', l.languages.includes(CASE.client_language));
        assert.equal(r.specialization.effect === 'plus', l.specialization === CASE.case_type);
      }
    } finally {
      await backend.close();
      await fake.close();
    }
  });

  test('no warnings (none, or an empty list) from the service: no warnings key', async () => {
    let n = 0;
    const fake = await startFakeService((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const extra = n++ % 2 ? { warnings: [], warning_count: 0 } : {};
      res.end(JSON.stringify({ model_version: 'fake-3', prediction_id: String(n).repeat(32), ranking: [{ lawyer_id: 4, match_probability: 0.5 }], ...extra }));
    });
    const backend = await startBackend({ mlUrl: fake.url });
    try {
      for (let i = 0; i < 2; i++) {
        const { body } = await api(backend.url, '/api/match', { method: 'POST', json: CASE });
        assert.deepEqual(Object.keys(body).sort(), ['candidates', 'case', 'helpline', 'lawyers', 'match_id', 'model_version', 'origin', 'ranked']);
        assert.equal(body.lawyers[0].reasons.length, FACTORS.length);
      }
    } finally {
      await backend.close();
      await fake.close();
    }
  });

  test('GET /api/contract serves the data contract the page builds its choices from', async () => {
    const fake = await startFakeService((req, res) => res.writeHead(503).end());
    const backend = await startBackend({ mlUrl: fake.url });
    try {
      const { status, body, headers } = await api(backend.url, '/api/contract');
      assert.equal(status, 200);
      assert.match(headers.get('content-type'), /application\/json/);
      assert.deepEqual(body, JSON.parse(fs.readFileSync(path.join(BACKEND, 'lib', 'contract.json'), 'utf8')));
      for (const field of ['case_type', 'urgency', 'client_language', 'client_region']) assert.ok(body.fields[field].vocab.length > 0, field);
    } finally {
      await backend.close();
      await fake.close();
    }
  });
});
