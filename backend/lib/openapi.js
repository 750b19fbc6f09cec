'use strict';
// The backend's published contract: an OpenAPI 3.1 description of /api/*, served at
// GET /api/openapi.json from lib/openapi.json. This module builds it from the same sources the
// code checks requests with (lib/contract.json, generated from ml_model/schema.py, and the limits in
// lib/validate.js), and its 400 examples from lib/validate.js's own answers, so it cannot drift.
//
//   node lib/openapi.js           write lib/openapi.json (atomically)
//   node lib/openapi.js --check   exit 1 if lib/openapi.json differs from what this builds
//
// tests/backend/openapi.test.mjs checks that every route lib/app.js registers is described (and
// nothing else), that the document is valid OpenAPI 3.1, and that examples and real answers fit it.

const fs = require('node:fs');
const path = require('node:path');
const { CONTRACT, OUTCOMES } = require('./vocab');
const {
  parseMatchRequest, parseLawyerQuery, MATCH_LIMIT, PAGE_LIMIT, MAX_PAGE, OUTCOME_FIELDS, NOTE_MAX_CHARS,
  MAX_TEXT_CHARS, MAX_ERRORS,
} = require('./validate');

const OPENAPI_FILE = path.join(__dirname, 'openapi.json');
const API_VERSION = '1.0.0'; // raise it when a field, rule or endpoint changes
const ref = (name) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema, examples) => ({ 'application/json': { schema, ...(examples ? { examples } : {}) } });
const example = (summary, value, description) => ({ summary, value, ...(description ? { description } : {}) });
const nullable = (type, extra = {}) => ({ type: [type, 'null'], ...extra });
const TEXT = { type: 'string' };
const FACTORS = ['specialization', 'language', 'price', 'distance', 'caseload', 'record'];
const MATCH_SERVICE_REASONS = ['unavailable', 'timeout', 'bad_response'];

// Typical values, first the most common: what a legal-aid client sends (not a range's ends).
const TYPICAL = {
  case_complexity: [3, 2, 4],
  client_income: [28500, 18000, 46000],
};

const HOUSING_CASE = Object.freeze({
  case_type: 'housing', case_complexity: 3, urgency: 'high', client_language: 'es', client_region: 'east', client_income: 28500,
});

/** A case field as JSON Schema, from the data contract: open text with known values, or a range. */
function caseField(name) {
  const f = CONTRACT.fields[name];
  if (f.kind === 'category') {
    return {
      type: 'string', minLength: 1, maxLength: MAX_TEXT_CHARS, 'x-known-values': f.vocab, examples: f.vocab,
      description: `Known values: ${f.vocab.join(', ')}. Other text (say "${f.vocab[0][0].toUpperCase()}${f.vocab[0].slice(1)}") ` +
        'is scored by the match service with this field ignored and named in `warnings`, not normalised.',
    };
  }
  return {
    type: f.kind === 'int' ? 'integer' : 'number', minimum: f.min, maximum: f.max,
    ...(TYPICAL[name] ? { examples: TYPICAL[name] } : {}),
  };
}

function lawyerSchema() {
  const category = (name) => ({ type: 'string', enum: CONTRACT.fields[name].vocab });
  const contact = {
    type: 'object',
    required: ['phone', 'email', 'office_address', 'intake_url'],
    properties: {
      phone: nullable('string'), email: nullable('string'), office_address: nullable('string'),
      intake_url: nullable('string', { pattern: '^https://' }),
    },
    description: 'How to reach the lawyer; a field not on file is null.',
  };
  return {
    type: 'object',
    required: ['id', 'name', 'specialization', 'languages', 'region', 'experience_years', 'rating', 'active_cases',
      'hourly_rate', 'location', 'contact'],
    properties: {
      id: { type: 'integer', minimum: 1 },
      name: TEXT,
      specialization: category('lawyer_specialization'),
      languages: { type: 'array', minItems: 1, items: category('lawyer_language'), description: 'The first is the primary one.' },
      region: category('lawyer_region'),
      experience_years: { type: 'number', minimum: 0 },
      rating: { type: 'number', minimum: 1, maximum: 5 },
      active_cases: { type: 'integer', minimum: 0 },
      hourly_rate: { type: 'number', minimum: 0, description: '0: pro bono.' },
      location: ref('Location'),
      contact,
    },
  };
}

function shownLawyerSchema() {
  return {
    description: 'A profile as a match shows it: where it stands and why.',
    allOf: [ref('Lawyer'), {
      type: 'object',
      required: ['distance_km', 'reasons'],
      properties: {
        distance_km: { type: 'number', minimum: 0, description: 'From the match origin.' },
        match_probability: { type: 'number', minimum: 0, maximum: 1, description: 'The model\'s; absent when `ranked` is false.' },
        eligible: { type: 'boolean', description: 'Practises the case type and speaks the client\'s language.' },
        reasons: {
          type: 'array',
          items: {
            type: 'object',
            required: ['factor', 'effect'],
            properties: { factor: { enum: FACTORS }, effect: { enum: ['plus', 'minus', 'neutral'] } },
            description: 'A plain fact about the lawyer, for or against (lib/match.js REASON_RULES), with its values.',
          },
        },
      },
    }],
  };
}

function matchRequestSchema() {
  const fields = CONTRACT.case_fields;
  return {
    type: 'object',
    required: fields.filter((f) => f !== 'client_region'),
    anyOf: [{ required: ['client_region'] }, { required: ['location'] }],
    properties: {
      ...Object.fromEntries(fields.map((f) => [f, caseField(f)])),
      location: { ...ref('Location'), description: 'Where the client is; then client_region may be left out (the nearest region is used).' },
      limit: { type: 'integer', minimum: 1, maximum: MATCH_LIMIT.max, default: MATCH_LIMIT.default, examples: [10, 3] },
    },
    description: 'A client\'s case. client_region is needed unless a location is given; an unknown client_region ' +
      'needs a location (distances are measured from a known region\'s centre). Other properties are ignored.',
  };
}

function matchResponseSchema() {
  return {
    type: 'object',
    required: ['match_id', 'model_version', 'lawyers'],
    properties: {
      ranked: { type: 'boolean', description: 'false: the match service did not answer; the lawyers are in a plain order (`order`), nothing is stored.' },
      reason: { enum: MATCH_SERVICE_REASONS, description: 'Why the list is not ranked (with `ranked: false`).' },
      order: { type: 'string', description: 'How an unranked list is ordered.' },
      match_id: nullable('string', { pattern: '^[0-9a-f]{32}$', description: 'Outcomes refer to it; null when nothing was ranked.' }),
      model_version: nullable('string'),
      case: { type: 'object', description: 'The case as scored (client_region filled in from a location).' },
      origin: {
        type: 'object', required: ['lat', 'lon', 'source'],
        properties: { lat: { type: 'number' }, lon: { type: 'number' }, source: { enum: ['location', 'region'] } },
      },
      candidates: { type: 'integer', minimum: 0, description: 'Lawyers considered.' },
      helpline: { type: 'object', properties: { phone: TEXT }, description: 'A number to call (HELPLINE_PHONE).' },
      lawyers: { type: 'array', items: ref('ShownLawyer'), description: 'Eligible lawyers first, best first.' },
      warnings: { type: 'array', maxItems: 100, items: ref('Warning'), description: 'The match service\'s, e.g. an unknown category.' },
    },
  };
}

function warningSchema() {
  return {
    type: 'object',
    required: ['location', 'index', 'field', 'value', 'message'],
    properties: {
      location: { enum: ['case', 'instances', 'lawyers'] },
      index: nullable('integer', { minimum: 0 }),
      field: TEXT,
      value: { type: 'string', description: 'The value, or its first 40 characters and "…".' },
      message: TEXT,
    },
    description: 'A value the model does not know, scored with that field ignored (the match service\'s words).',
  };
}

function errorSchemas() {
  const problem = {
    type: 'object', required: ['field', 'message'], additionalProperties: false,
    properties: { field: TEXT, message: { type: 'string', description: 'The problem, starting with the field.' } },
  };
  return {
    Problem: problem,
    BadRequest: {
      type: 'object',
      required: ['error', 'field', 'errors', 'error_count'],
      additionalProperties: false,
      properties: {
        error: { type: 'string', description: 'The first problems in one sentence, and how many more there are.' },
        field: { type: 'string', description: 'The first problem\'s field.' },
        errors: { type: 'array', minItems: 1, maxItems: MAX_ERRORS, items: ref('Problem'), description: 'Every problem, in the request\'s order.' },
        error_count: { type: 'integer', minimum: 1, description: 'All problems, listed or not.' },
      },
    },
    Error: {
      type: 'object', required: ['error'],
      properties: { error: TEXT, field: TEXT, reason: TEXT },
      description: 'Any other error: a sentence, and the field or a reason when there is one.',
    },
    Unavailable: {
      type: 'object', required: ['error', 'reason'],
      properties: { error: TEXT, reason: { enum: [...MATCH_SERVICE_REASONS, 'database_busy', 'storage_failed'] } },
    },
  };
}

function outcomeSchemas() {
  const outcome = { enum: OUTCOMES };
  return {
    OutcomeRequest: {
      type: 'object',
      required: ['match_id', 'lawyer_id', 'outcome'],
      additionalProperties: false,
      properties: {
        match_id: { type: 'string', pattern: '^[0-9a-fA-F]{32}$', description: 'As returned by POST /api/match.' },
        lawyer_id: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'A lawyer that match showed.' },
        outcome,
        previous_outcome: { ...nullable('string'), enum: [...OUTCOMES, null], description: 'The outcome stored now, to change it (null: none yet).' },
        occurred_at: { type: 'string', description: 'ISO 8601 with a time zone; default now; at most 5 minutes ahead.', examples: ['2026-03-01T14:30:00Z'] },
        correction: { type: 'boolean', description: 'Accepted from older clients; changes nothing.' },
        note: { type: 'string', maxLength: NOTE_MAX_CHARS },
      },
      description: `Only these fields: ${OUTCOME_FIELDS.join(', ')}.`,
    },
    Outcome: {
      type: 'object',
      required: ['match_id', 'lawyer_id', 'outcome', 'label', 'occurred_at', 'recorded_at', 'corrected'],
      properties: {
        match_id: TEXT, lawyer_id: { type: 'integer' }, outcome, label: { enum: [0, 1] },
        occurred_at: TEXT, recorded_at: TEXT, corrected: { type: 'boolean' },
      },
    },
  };
}

function schemas() {
  return {
    Location: {
      type: 'object', required: ['lat', 'lon'],
      properties: { lat: { type: 'number', minimum: -90, maximum: 90 }, lon: { type: 'number', minimum: -180, maximum: 180 } },
    },
    Lawyer: lawyerSchema(),
    ShownLawyer: shownLawyerSchema(),
    LawyerPage: {
      type: 'object', required: ['page', 'limit', 'total', 'total_pages', 'lawyers'],
      properties: {
        page: { type: 'integer', minimum: 1 }, limit: { type: 'integer', minimum: 1 }, total: { type: 'integer', minimum: 0 },
        total_pages: { type: 'integer', minimum: 0 }, lawyers: { type: 'array', items: ref('Lawyer') },
      },
    },
    MatchRequest: matchRequestSchema(),
    MatchResponse: matchResponseSchema(),
    Warning: warningSchema(),
    Health: {
      type: 'object', required: ['status', 'lawyers', 'ml_service'],
      properties: {
        status: { enum: ['ok', 'degraded'] },
        lawyers: { type: 'integer', minimum: 0 },
        ml_service: {
          type: 'object', required: ['reachable'],
          properties: { reachable: { type: 'boolean' }, status: TEXT, model_version: nullable('string'), error: TEXT },
        },
      },
    },
    Contract: {
      type: 'object', required: ['fields', 'case_fields', 'lawyer_fields', 'pair_fields'],
      description: 'The data contract (lib/contract.json, generated from ml_model/schema.py).',
    },
    Helpline: { type: 'object', required: ['phone'], properties: { phone: TEXT } },
    ...outcomeSchemas(),
    ...errorSchemas(),
  };
}

/** What lib/validate.js answers to `parse(input)`: the 400 example, in the backend's own words. */
function refusal(parse, input) {
  try {
    parse(input);
  } catch (err) {
    return err.toBody();
  }
  throw new Error(`the refusal example was accepted: ${JSON.stringify(input)}`);
}

// The requests behind the 400 examples (not request examples themselves: those must fit the description).
const REFUSED = Object.freeze({
  match: { ...HOUSING_CASE, case_complexity: 9, urgency: 42, client_income: -1, location: { lat: 95, lon: -88.6 } },
  lawyers: { specialization: 'tax', page: '0', limit: '500' },
});

const responses = (entries) => Object.fromEntries(entries.map(([status, description, schema, examples]) =>
  [status, { description, content: json(ref(schema), examples) }]));
const BAD = ['400', 'Every problem of the request, at once.', 'BadRequest'];

function matchOperation() {
  const bad = refusal(parseMatchRequest, REFUSED.match);
  return {
    operationId: 'match',
    summary: 'The lawyers for a case, best match first (one POST /rank to the match service).',
    requestBody: {
      required: true,
      content: json(ref('MatchRequest'), {
        housing: example('A housing case in Spanish, top 3', { ...HOUSING_CASE, limit: 3 }),
        location: example('From where the client is (no region needed)', {
          ...Object.fromEntries(Object.entries(HOUSING_CASE).filter(([k]) => k !== 'client_region')), location: { lat: 41.62, lon: -88.6 },
        }),
        miscased: example('"Family" is scored with case_type ignored and a warning, as the match service does',
          { ...HOUSING_CASE, case_type: 'Family', limit: 3 }),
      }),
    },
    responses: responses([
        ['200', 'The match (or, with `ranked: false`, the lawyers in a plain order while matching is unavailable).', 'MatchResponse'],
        [...BAD, { refused: example('Every problem at once', bad,
          'The answer to the housing example with case_complexity 9, urgency 42, client_income -1 and a latitude of 95.') }],
        ['413', 'A body over BODY_LIMIT (16kb).', 'Error'],
        ['503', 'The match service did not answer well, or the match could not be stored (Retry-After).', 'Unavailable'],
    ]),
  };
}

function lawyersOperation() {
  const filter = (name, field) => ({ name, in: 'query', required: false, schema: { type: 'string', enum: CONTRACT.fields[field].vocab } });
  const int = (name, max, dflt) => ({ name, in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: max, default: dflt } });
  return {
    operationId: 'listLawyers',
    summary: 'The directory, filtered and paginated.',
    parameters: [
      { ...filter('specialization', 'lawyer_specialization'), example: 'housing' },
      { ...filter('language', 'lawyer_language'), example: 'es' },
      filter('region', 'lawyer_region'),
      int('page', MAX_PAGE, 1),
      { ...int('limit', PAGE_LIMIT.max, PAGE_LIMIT.default), example: 20 },
    ],
    responses: responses([
      ['200', 'One page of profiles.', 'LawyerPage'],
      [...BAD, { refused: example('Every problem at once', refusal(parseLawyerQuery, REFUSED.lawyers),
        'The answer to ?specialization=tax&page=0&limit=500.') }],
    ]),
  };
}

const get = (operationId, summary, rest) => ({ get: { operationId, summary, ...rest } });

function paths() {
  return {
    '/api/health': get('health', 'The backend, its lawyer count, and whether the match service answers.', {
      responses: responses([['200', 'Always 200; `status` is degraded when the match service does not answer.', 'Health']]),
    }),
    '/api/contract': get('contract', 'The data contract: every field\'s kind, vocabulary and range.', {
      responses: responses([['200', 'lib/contract.json.', 'Contract']]),
    }),
    '/api/openapi.json': get('openapi', 'This description.', {
      responses: { 200: { description: 'The OpenAPI 3.1 document.', content: json({ type: 'object' }) } },
    }),
    '/api/helpline': get('helpline', 'The help line the page gives a client when matching is unavailable.', {
      responses: responses([['200', 'HELPLINE_PHONE.', 'Helpline']]),
    }),
    '/api/lawyers': { get: lawyersOperation() },
    '/api/lawyers/{id}': get('getLawyer', 'One profile.', {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1, maximum: 999999999 }, example: 17 }],
      responses: responses([['200', 'The profile.', 'Lawyer'], [...BAD], ['404', 'No lawyer with that id.', 'Error']]),
    }),
    '/api/match': { post: matchOperation() },
    '/api/outcomes': {
      post: {
        operationId: 'recordOutcome',
        summary: 'What happened after a match for one shown lawyer (intake workers only).',
        security: [{ outcomesToken: [] }],
        requestBody: {
          required: true,
          content: json(ref('OutcomeRequest'), {
            engaged: example('The client engaged the lawyer', {
              match_id: '25f8cfbee60c4a4ebea70a393c4a7204', lawyer_id: 17, outcome: 'engaged', occurred_at: '2026-03-01T14:30:00Z',
            }),
          }),
        },
        responses: responses([
          ['201', 'Recorded.', 'Outcome'],
          ['200', 'The same outcome again (nothing written), or a change that named the stored one in previous_outcome.', 'Outcome'],
          [...BAD],
          ['401', 'No or a wrong bearer token.', 'Error'],
          ['404', 'No such match, or that lawyer was not shown in it.', 'Error'],
          ['409', 'A change that did not name the stored outcome in previous_outcome.', 'Error'],
          ['503', 'Recording is off (OUTCOMES_TOKEN unset), or the database is busy (Retry-After).', 'Error'],
        ]),
      },
    },
  };
}

const DESCRIPTION = `The LegalAid Connect backend: the lawyer directory and case matching, for the web page it
serves at / and for anyone else. Matching asks the match service (its own description: GET /openapi.json
on the service, a page at its /docs).

A 400 reports every problem of the request at once: \`errors\` lists each as {field, message} in the
request's order (at most ${MAX_ERRORS}; \`error_count\` counts all), \`error\` joins the first few into one
sentence and \`field\` names the first. A case's category (case_type, urgency, client_language,
client_region) is handled as the match service handles it: text it does not know, say "Family", is
not refused and not normalised; it is scored with that field ignored and named in the answer's
\`warnings\` ("did you mean 'family'?"). Text over ${MAX_TEXT_CHARS} characters, or not valid Unicode, is a 400.
Other errors are {error} with a \`field\` or a \`reason\`; a 503 may carry Retry-After.`;

/** The OpenAPI 3.1 description of /api/* (plain data, no I/O). */
function openapiDocument() {
  return {
    openapi: '3.1.0',
    info: { title: 'LegalAid Connect backend API', version: API_VERSION, description: DESCRIPTION },
    servers: [{ url: '/', description: 'The backend serving this description (default http://127.0.0.1:5000).' }],
    paths: paths(),
    components: {
      schemas: schemas(),
      securitySchemes: { outcomesToken: { type: 'http', scheme: 'bearer', description: 'OUTCOMES_TOKEN' } },
    },
  };
}

/** The committed file's exact text (two-space indent, one trailing newline). */
function rendered() {
  return `${JSON.stringify(openapiDocument(), null, 2)}\n`;
}

function main(argv = process.argv.slice(2)) {
  const text = rendered();
  if (argv.includes('--check')) {
    const now = fs.existsSync(OPENAPI_FILE) ? fs.readFileSync(OPENAPI_FILE, 'utf8') : '';
    if (now !== text) {
      console.error(`${OPENAPI_FILE} is out of date: run \`node lib/openapi.js\` in backend/.`);
      return 1;
    }
    console.error(`${OPENAPI_FILE} is current.`);
    return 0;
  }
  const tmp = `${OPENAPI_FILE}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o644 });
  fs.renameSync(tmp, OPENAPI_FILE);
  console.error(`Wrote ${OPENAPI_FILE}.`);
  return 0;
}

if (require.main === module) process.exitCode = main();

module.exports = { openapiDocument, rendered, OPENAPI_FILE, REFUSED, API_VERSION };
