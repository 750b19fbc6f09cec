// The backend's own OpenAPI 3.1 description (GET /api/openapi.json, lib/openapi.json built by
// lib/openapi.js): it is current, valid (openapi-spec-validator), describes exactly the routes
// lib/app.js registers, and its examples and the backend's real answers (with the REAL match
// service, and without it) fit it (jsonschema; both from the project's Python environment).
// Also here: a 400 lists every problem at once, and an unknown category is handled as the match
// service handles it (scored with the field ignored and a warning in the service's words).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { backendRequire, startMatchService, startBackend, api, freePort, tempDir, CASE, REPO, BACKEND } from './helpers.mjs';

const { openapiDocument, rendered, OPENAPI_FILE, REFUSED } = backendRequire('./lib/openapi.js');
const { parseMatchRequest, MAX_TEXT_CHARS } = backendRequire('./lib/validate.js');
const { createApp } = backendRequire('./lib/app.js');
const { openDirectory } = backendRequire('./lib/db.js');

const TOKEN = 'test-outcomes-token-0123456789abcdef';
const PYTHON = process.env.ML_PYTHON || path.join(REPO, '.venv', 'bin', 'python');
const DOC = openapiDocument();

let ml;
let backend;      // with the real match service
let downBackend;  // whose match service does not answer

before(async () => {
  ml = await startMatchService();
  backend = await startBackend({ mlUrl: ml.url, outcomesToken: TOKEN });
  downBackend = await startBackend({ mlUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 500 });
});

after(async () => {
  await backend?.close();
  await downBackend?.close();
  await ml?.stop();
});

/** The JSON Schema of an answer: (path, method, status) in DOC. */
function responseSchema(pathname, method, status) {
  const response = DOC.paths[pathname]?.[method]?.responses?.[String(status)];
  assert.ok(response, `${method.toUpperCase()} ${pathname} ${status} is not described`);
  return response.content['application/json'].schema;
}

/**
 * Check `doc` is valid OpenAPI 3.1 and each of `checks` ({label, schema, instance}) fits its schema
 * (refs resolved in the doc's components), in one Python process; returns the failures.
 */
function validateWithPython(doc, checks) {
  const dir = tempDir('legalaid-openapi-');
  const file = path.join(dir, 'checks.json');
  fs.writeFileSync(file, JSON.stringify({ doc, checks }));
  const script = `
import json, sys
import jsonschema
from openapi_spec_validator import validate
data = json.load(open(sys.argv[1]))
doc = data["doc"]
validate(doc)
failures = []
for check in data["checks"]:
    schema = {**check["schema"], "components": doc["components"]}
    for error in jsonschema.Draft202012Validator(schema).iter_errors(check["instance"]):
        failures.append(f"{check['label']}: {error.message} at {list(error.absolute_path)}")
print(json.dumps(failures))
`;
  const r = spawnSync(PYTHON, ['-c', script, file], { encoding: 'utf8', timeout: 120000 });
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.status, 0, r.stderr.slice(-3000));
  return JSON.parse(r.stdout);
}

/** Every request and answer example in DOC, as checks. */
function exampleChecks() {
  const checks = [];
  for (const [pathname, item] of Object.entries(DOC.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const bodies = [['request', op.requestBody], ...Object.entries(op.responses)];
      for (const [where, body] of bodies) {
        for (const media of Object.values(body?.content ?? {})) {
          for (const [name, ex] of Object.entries(media.examples ?? {})) {
            checks.push({ label: `${method} ${pathname} ${where} example ${name}`, schema: media.schema, instance: ex.value });
          }
        }
      }
      for (const p of op.parameters ?? []) {
        if ('example' in p) checks.push({ label: `${method} ${pathname} ?${p.name}`, schema: p.schema, instance: p.example });
      }
    }
  }
  return checks;
}

const requestExamples = (pathname, method) => DOC.paths[pathname][method].requestBody.content['application/json'].examples;

describe('the description', () => {
  test('lib/openapi.json is what lib/openapi.js builds, and GET /api/openapi.json serves it', async () => {
    assert.equal(fs.readFileSync(OPENAPI_FILE, 'utf8'), rendered(), 'run `node lib/openapi.js` in backend/');
    const r = spawnSync(process.execPath, ['lib/openapi.js', '--check'], { cwd: BACKEND, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { status, headers, body } = await api(backend.url, '/api/openapi.json');
    assert.equal(status, 200);
    assert.match(headers.get('content-type'), /application\/json/);
    assert.deepEqual(body, DOC);
    assert.equal(body.openapi, '3.1.0');
  });

  test('every route lib/app.js registers is described, and nothing else', () => {
    const directory = openDirectory(':memory:');
    const dir = tempDir('legalaid-routes-');
    try {
      const app = createApp({ directory, matchClient: {}, unstoredPath: path.join(dir, 'unstored.jsonl') });
      const registered = new Set();
      for (const layer of app.router.stack) {
        if (!layer.handle?.stack) continue; // a mounted router: /api
        for (const r of layer.handle.stack) {
          if (!r.route) continue;
          const openapiPath = layer.rawPath + r.route.path.replace(/:(\w+)/g, '{$1}');
          for (const method of Object.keys(r.route.methods)) registered.add(`${method.toUpperCase()} ${openapiPath}`);
        }
      }
      const described = new Set(Object.entries(DOC.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`)));
      assert.ok(registered.has('POST /api/match') && registered.has('GET /api/lawyers/{id}'), [...registered].join(', '));
      assert.deepEqual([...registered].sort(), [...described].sort());
    } finally {
      directory.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('it is valid OpenAPI 3.1, and every example and every real answer fits it', async () => {
    const checks = exampleChecks();
    assert.ok(checks.filter((c) => c.label.includes('request example')).length >= 4, checks.map((c) => c.label).join('\n'));
    const answer = async (base, pathname, { method = 'get', json, raw, headers, described = pathname } = {}) => {
      const r = await api(base, pathname, { method: method.toUpperCase(), json, raw, headers });
      checks.push({ label: `${method} ${pathname} -> ${r.status}`, schema: responseSchema(described, method, r.status), instance: r.body });
      return r;
    };
    for (const p of ['/api/health', '/api/contract', '/api/openapi.json', '/api/helpline', '/api/lawyers?specialization=housing&limit=5']) {
      assert.equal((await answer(backend.url, p, { described: p.split('?')[0] })).status, 200, p);
    }
    assert.equal((await answer(backend.url, '/api/lawyers?specialization=tax&page=0', { described: '/api/lawyers' })).status, 400);
    assert.equal((await answer(backend.url, '/api/lawyers/17', { described: '/api/lawyers/{id}' })).status, 200);
    assert.equal((await answer(backend.url, '/api/lawyers/999999', { described: '/api/lawyers/{id}' })).status, 404);
    assert.equal((await answer(backend.url, '/api/lawyers/abc', { described: '/api/lawyers/{id}' })).status, 400);
    // Each request example is accepted as written, and its answer fits.
    let match;
    for (const [name, ex] of Object.entries(requestExamples('/api/match', 'post'))) {
      const r = await answer(backend.url, '/api/match', { method: 'post', json: ex.value });
      assert.equal(r.status, 200, `${name}: ${JSON.stringify(r.body)}`);
      match ??= r.body;
    }
    assert.equal((await answer(backend.url, '/api/match', { method: 'post', json: REFUSED.match })).status, 400);
    assert.equal((await answer(backend.url, '/api/match', { method: 'post', raw: '{"case_type": ' })).status, 400);
    assert.equal((await answer(downBackend.url, '/api/match', { method: 'post', json: CASE })).status, 200); // unranked
    const auth = { authorization: `Bearer ${TOKEN}` };
    const [outcome] = Object.values(requestExamples('/api/outcomes', 'post'));
    const recorded = { ...outcome.value, match_id: match.match_id, lawyer_id: match.lawyers[0].id, occurred_at: new Date().toISOString() };
    assert.equal((await answer(backend.url, '/api/outcomes', { method: 'post', json: recorded, headers: auth })).status, 201);
    assert.equal((await answer(backend.url, '/api/outcomes', { method: 'post', json: { outcome: 'hired' }, headers: auth })).status, 400);
    assert.equal((await answer(backend.url, '/api/outcomes', { method: 'post', json: recorded })).status, 401);

    assert.deepEqual(validateWithPython(DOC, checks), []);
    // The check has teeth: a wrong example and an answer with a wrong type are both caught.
    const broken = structuredClone(DOC);
    requestExamplesOf(broken).housing.value.client_income = 10_000_001;
    const failures = validateWithPython(broken, [
      { label: 'broken example', schema: { $ref: '#/components/schemas/MatchRequest' }, instance: requestExamplesOf(broken).housing.value },
      { label: 'broken answer', schema: { $ref: '#/components/schemas/LawyerPage' }, instance: { page: '1', limit: 20, total: 0, total_pages: 0, lawyers: [] } },
    ]);
    assert.equal(failures.length, 2, failures.join('\n'));
  });
});

function requestExamplesOf(doc) {
  return doc.paths['/api/match'].post.requestBody.content['application/json'].examples;
}

describe('every problem at once', () => {
  test('POST /api/match lists each problem with its field, in the request\'s order', async () => {
    const { status, body } = await api(backend.url, '/api/match', { method: 'POST', json: REFUSED.match });
    assert.equal(status, 400);
    assert.deepEqual(body.errors.map((e) => e.field), ['case_complexity', 'urgency', 'client_income', 'lat']);
    assert.equal(body.error_count, 4);
    assert.equal(body.field, 'case_complexity');
    assert.equal(body.error, body.errors.map((e) => e.message).join('; '));
    assert.deepEqual(body, DOC.paths['/api/match'].post.responses['400'].content['application/json'].examples.refused.value);
    for (const e of body.errors) assert.ok(e.message.startsWith(`${e.field}: `), e.message);
  });

  test('a long list is capped at 20 and counted, and the sentence stays short', async () => {
    const json = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`extra_${i}`, 1]));
    const { status, body } = await api(backend.url, '/api/outcomes', { method: 'POST', json, headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(status, 400);
    assert.equal(body.errors.length, 20);
    assert.equal(body.error_count, 30 + 3); // 30 unknown fields, then match_id, lawyer_id and outcome missing
    assert.match(body.error, /\(and \d+ more: see 'errors'\)$/);
    assert.ok(body.error.length < 400, body.error);
  });

  test('GET /api/lawyers lists every bad query parameter', async () => {
    const { status, body } = await api(backend.url, '/api/lawyers?specialization=tax&page=0&limit=500&region=north&region=south');
    assert.equal(status, 400);
    assert.deepEqual(body.errors.map((e) => e.field), ['specialization', 'region', 'page', 'limit']);
  });

  test('POST /api/outcomes lists every bad field', async () => {
    const json = { match_id: 'nope', lawyer_id: 0, outcome: 'hired', note: 42, label: 1 };
    const { status, body } = await api(backend.url, '/api/outcomes', { method: 'POST', json, headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(status, 400);
    assert.deepEqual(body.errors.map((e) => e.field), ['label', 'match_id', 'lawyer_id', 'outcome', 'note']);
  });
});

describe('unknown categories, as the match service handles them', () => {
  const rankDirect = async (caseFields) => api(ml.url, '/rank', { method: 'POST', json: {
    case: caseFields,
    lawyers: [{ lawyer_id: 1, lawyer_specialization: 'family', lawyer_language: 'es', lawyer_region: 'north',
      lawyer_experience_years: 9, lawyer_rating: 4.3, lawyer_active_cases: 8, lawyer_hourly_rate: 60, distance_km: 4 }],
  } });

  test('"Family" is scored with case_type ignored, not refused and not read as "family", with the service\'s warning', async () => {
    const cased = await api(backend.url, '/api/match', { method: 'POST', json: { ...CASE, case_type: 'Family' } });
    const unknown = await api(backend.url, '/api/match', { method: 'POST', json: { ...CASE, case_type: 'maritime' } });
    const known = await api(backend.url, '/api/match', { method: 'POST', json: CASE });
    assert.equal(cased.status, 200, JSON.stringify(cased.body));
    assert.equal(cased.body.case.case_type, 'Family', 'passed on as sent');
    const scores = (r) => r.body.lawyers.map((l) => [l.id, l.match_probability]);
    assert.deepEqual(scores(cased), scores(unknown), '"Family" scores as any unknown value');
    assert.notDeepEqual(scores(cased), scores(known), 'and not as "family"');
    const [warning] = cased.body.warnings;
    assert.deepEqual(warning, {
      location: 'case', index: null, field: 'case_type', value: 'Family',
      message: "unknown value 'Family' in field 'case_type', scored with the field ignored (did you mean 'family'?)",
    });
    assert.equal(known.body.warnings, undefined);
  });

  test('the backend words a warning exactly as the service does', async () => {
    for (const [field, value] of [['case_type', 'Family'], ['urgency', 'ASAP'], ['client_language', "it's \"x\""],
      ['case_type', 'm'.repeat(MAX_TEXT_CHARS)], ['client_language', 'Español ']]) {
      const caseFields = { ...CASE, [field]: value };
      const mine = parseMatchRequest(caseFields).warnings;
      const service = (await rankDirect(caseFields)).body.warnings;
      assert.deepEqual(mine, service, `${field}=${value}`);
    }
  });

  test('an unknown region needs a location (distances come from a known region), and is then scored with a warning', async () => {
    const none = await api(backend.url, '/api/match', { method: 'POST', json: { ...CASE, client_region: 'North' } });
    assert.equal(none.status, 400);
    assert.equal(none.body.field, 'client_region');
    assert.match(none.body.error, /did you mean 'north'\?.*or a location/);
    const located = await api(backend.url, '/api/match', { method: 'POST', json: { ...CASE, client_region: 'North', location: { lat: 41.9, lon: -89 } } });
    assert.equal(located.status, 200, JSON.stringify(located.body));
    assert.deepEqual(located.body.warnings.map((w) => w.field), ['client_region']);
  });

  test('what the service refuses, the backend refuses first: not text, too long, not valid Unicode', async () => {
    const long = 'x'.repeat(MAX_TEXT_CHARS + 1);
    for (const [json, field] of [[{ ...CASE, urgency: 3 }, 'urgency'], [{ ...CASE, case_type: long }, 'case_type']]) {
      const r = await api(backend.url, '/api/match', { method: 'POST', json });
      assert.equal(r.status, 400, JSON.stringify(json));
      assert.equal(r.body.field, field);
      const direct = await rankDirect(json);
      assert.equal(direct.status, 400, 'the service refuses it too');
    }
    const raw = JSON.stringify({ ...CASE, client_language: 'PLACEHOLDER' }).replace('PLACEHOLDER', '\\udc80');
    const r = await api(backend.url, '/api/match', { method: 'POST', raw });
    assert.equal(r.status, 400);
    assert.equal(r.body.field, 'client_language');
    assert.match(r.body.error, /valid Unicode/);
  });

  test('the backend\'s text limit is the service\'s published one', () => {
    const service = JSON.parse(fs.readFileSync(path.join(REPO, 'ml_model', 'openapi.json'), 'utf8'));
    for (const field of ['case_type', 'urgency', 'client_language', 'client_region']) {
      assert.equal(service.components.schemas.Case.properties[field].maxLength, MAX_TEXT_CHARS, field);
      assert.equal(DOC.components.schemas.MatchRequest.properties[field].maxLength, MAX_TEXT_CHARS, field);
    }
  });
});
