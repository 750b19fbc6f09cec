// One contract for the backend and the service: every limit the service enforces on what a client
// sends, the backend enforces first with a 400 naming the field (never a 503 "service down"), and
// both sides read it from ml_model/schema.py (through backend/lib/contract.json).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMatchService, startBackend, api, backendRequire, CASE } from './helpers.mjs';

const { CONTRACT } = backendRequire('./lib/vocab.js');

let ml;
let backend;

before(async () => {
  ml = await startMatchService();
  backend = await startBackend({ mlUrl: ml.url });
});

after(async () => {
  await backend?.close();
  await ml?.stop();
});

// For each numeric client field: just inside the service's range is scored, just outside is a 400
// from the backend that names the field, and the service says 400 to the same value as well.
for (const field of CONTRACT.case_fields.filter((f) => CONTRACT.fields[f].kind !== 'category')) {
  const { min, max, kind } = CONTRACT.fields[field];
  const step = kind === 'int' ? 1 : 0.5;
  test(`${field}: the backend refuses what the service refuses`, async () => {
    for (const [value, ok] of [[max, true], [min, true], [max + step, false], [min - step, false]]) {
      const res = await api(backend.url, '/api/match', { method: 'POST', json: { ...CASE, [field]: value } });
      if (ok) {
        assert.equal(res.status, 200, `${field}=${value}: ${JSON.stringify(res.body)}`);
      } else {
        assert.equal(res.status, 400, `${field}=${value}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.field, field);
        const direct = await api(ml.url, '/predict', { method: 'POST', json: { instances: [{
          ...CASE, [field]: value, lawyer_specialization: 'family', lawyer_language: 'en', lawyer_region: 'north',
          lawyer_experience_years: 5, lawyer_rating: 4, lawyer_active_cases: 3, lawyer_hourly_rate: 100, distance_km: 3,
        }] } });
        assert.equal(direct.status, 400, `the service took ${field}=${value}: ${JSON.stringify(direct.body)}`);
      }
    }
  });
}

// As the service: a category outside the contract is scored with that field ignored and named in
// a warning (client_region with a location: without one, distances cannot be measured).
test('a category outside the contract is scored with a warning naming the field, as the service does', async () => {
  for (const field of CONTRACT.case_fields.filter((f) => CONTRACT.fields[f].kind === 'category')) {
    const res = await api(backend.url, '/api/match', { method: 'POST', json: { ...CASE, [field]: 'Family', location: { lat: 41.9, lon: -89 } } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.warnings.map((w) => w.field), [field]);
  }
});
