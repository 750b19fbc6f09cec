'use strict';
// Request validation. Every failure is a ValidationError naming the offending field, which the
// API turns into 400 {"error": "...", "field": "..."}.

const { CASE_TYPES, LANGUAGES, REGIONS, URGENCIES, OUTCOMES, limitsOf } = require('./vocab');
const { nearestRegion } = require('./geo');

class ValidationError extends Error {
  constructor(field, message) {
    super(`${field}: ${message}`);
    this.name = 'ValidationError';
    this.field = field;
  }
}

const MATCH_LIMIT = { default: 10, max: 500 };
const PAGE_LIMIT = { default: 20, max: 100 };
const MAX_PAGE = 100000;

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function category(body, field, vocab) {
  const v = body[field];
  if (v === undefined || v === null || v === '') throw new ValidationError(field, 'is required');
  if (typeof v !== 'string' || !vocab.includes(v)) {
    throw new ValidationError(field, `must be one of ${vocab.join(', ')}`);
  }
  return v;
}

function number(body, field, { min = -Infinity, max = Infinity, integer = false, required = true } = {}) {
  const v = body[field];
  if (v === undefined || v === null || v === '') {
    if (required) throw new ValidationError(field, 'is required');
    return undefined;
  }
  const range = `${integer ? 'an integer' : 'a number'}${Number.isFinite(min) ? ` >= ${min}` : ''}` +
    `${Number.isFinite(max) ? `${Number.isFinite(min) ? ' and' : ''} <= ${max}` : ''}`;
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    throw new ValidationError(field, `must be ${range}`);
  }
  return v;
}

/**
 * POST /api/match body: the six client fields of the data contract, optionally
 * location {lat, lon} (then client_region may be left out: the nearest region is used) and limit.
 */
function parseMatchRequest(body) {
  if (!isObject(body)) throw new ValidationError('body', 'must be a JSON object (Content-Type: application/json)');
  let location = null;
  if (body.location !== undefined && body.location !== null) {
    if (!isObject(body.location)) throw new ValidationError('location', 'must be an object {lat, lon}');
    location = {
      lat: number(body.location, 'lat', { min: -90, max: 90 }),
      lon: number(body.location, 'lon', { min: -180, max: 180 }),
    };
  }
  const caseFields = {
    case_type: category(body, 'case_type', CASE_TYPES),
    case_complexity: number(body, 'case_complexity', limitsOf('case_complexity')),
    urgency: category(body, 'urgency', URGENCIES),
    client_language: category(body, 'client_language', LANGUAGES),
    client_region: null,
    client_income: number(body, 'client_income', limitsOf('client_income')),
  };
  const regionGiven = !(body.client_region === undefined || body.client_region === null || body.client_region === '');
  caseFields.client_region = regionGiven || !location
    ? category(body, 'client_region', REGIONS)
    : nearestRegion(location.lat, location.lon);
  const limit = number(body, 'limit', { min: 1, max: MATCH_LIMIT.max, integer: true, required: false }) ?? MATCH_LIMIT.default;
  return { caseFields, location, limit };
}

function queryValue(query, field) {
  const v = query[field];
  if (Array.isArray(v) || isObject(v)) throw new ValidationError(field, 'must be given once');
  return v === undefined || v === '' ? undefined : v;
}

function queryInt(query, field, { min, max, fallback }) {
  const v = queryValue(query, field);
  if (v === undefined) return fallback;
  if (!/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new ValidationError(field, `must be an integer from ${min} to ${max}`);
  }
  return Number(v);
}

function queryCategory(query, field, vocab) {
  const v = queryValue(query, field);
  if (v === undefined) return undefined;
  if (!vocab.includes(v)) throw new ValidationError(field, `must be one of ${vocab.join(', ')}`);
  return v;
}

/** GET /api/lawyers query: filters specialization, language, region; page (1-based) and limit. */
function parseLawyerQuery(query) {
  const filters = {
    specialization: queryCategory(query, 'specialization', CASE_TYPES),
    language: queryCategory(query, 'language', LANGUAGES),
    region: queryCategory(query, 'region', REGIONS),
  };
  const page = queryInt(query, 'page', { min: 1, max: MAX_PAGE, fallback: 1 });
  const limit = queryInt(query, 'limit', { min: 1, max: PAGE_LIMIT.max, fallback: PAGE_LIMIT.default });
  return { filters, page, limit, offset: (page - 1) * limit };
}

// 2026-03-01T14:30Z, 2026-03-01T14:30:05.123+01:00 ... (a time zone is required); with
// allowDate, a bare 2026-03-01 too (midnight UTC).
const ISO_TIME_RE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** Milliseconds since the epoch of a strict ISO 8601 time, or null if it is not one (or not a real date). */
function parseIsoTime(text, { allowDate = false } = {}) {
  if (typeof text !== 'string') return null;
  const m = ISO_TIME_RE.exec(text);
  if (!m) return null;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone] = m;
  if (zone === undefined && !allowDate) return null;
  const [Y, M, D, H, MI, S] = [y, mo, d, h, mi, s].map(Number);
  const leap = Y % 4 === 0 && (Y % 100 !== 0 || Y % 400 === 0);
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][M - 1];
  if (M < 1 || M > 12 || D < 1 || D > daysInMonth || H > 23 || MI > 59 || S > 59) return null;
  let offsetMin = 0;
  if (zone && zone !== 'Z') {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) return null;
    offsetMin = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const ms = Number((frac + '000').slice(0, 3));
  const utc = new Date(0);
  utc.setUTCFullYear(Y, M - 1, D); // setUTCFullYear, not Date.UTC: years 0-99 stay as written
  utc.setUTCHours(H, MI, S, ms);
  return utc.getTime() - offsetMin * 60000;
}

const OUTCOME_FIELDS = Object.freeze(['match_id', 'lawyer_id', 'outcome', 'previous_outcome', 'occurred_at', 'correction', 'note']);
const OUTCOME_FUTURE_SLACK_MS = 5 * 60 * 1000;
const NOTE_MAX_CHARS = 500;
const absent = (v) => v === undefined || v === null;

/**
 * POST /api/outcomes body: match_id (32 hex), lawyer_id (integer, as shown), outcome, optionally
 * previous_outcome (the outcome stored now, which a change must name; null: none yet),
 * occurred_at (ISO 8601 with a time zone; default now; at most 5 minutes ahead of nowMs),
 * correction (boolean; accepted from older clients, changes nothing: previous_outcome decides) and
 * note (string of at most 500 characters). Any other field is refused.
 * Returns { matchId, lawyerId, outcome, previousOutcome, occurredAt, correction, note } with
 * previousOutcome undefined when not sent, occurredAt normalised to UTC (toISOString) or
 * undefined, and note undefined when not given ('' clears it).
 */
function parseOutcomeRequest(body, nowMs = Date.now()) {
  if (!isObject(body)) throw new ValidationError('body', 'must be a JSON object (Content-Type: application/json)');
  for (const key of Object.keys(body)) {
    if (!OUTCOME_FIELDS.includes(key)) {
      throw new ValidationError(key, `is not a known field (allowed: ${OUTCOME_FIELDS.join(', ')})`);
    }
  }
  const id = body.match_id;
  if (id === undefined || id === null || id === '') throw new ValidationError('match_id', 'is required');
  if (typeof id !== 'string' || !/^[0-9a-fA-F]{32}$/.test(id)) {
    throw new ValidationError('match_id', 'must be the 32 hex characters returned by POST /api/match');
  }
  const lawyerId = number(body, 'lawyer_id', { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true });
  const outcome = category(body, 'outcome', OUTCOMES);
  const previousOutcome = body.previous_outcome;
  if (!(previousOutcome === undefined || previousOutcome === null || OUTCOMES.includes(previousOutcome))) {
    throw new ValidationError('previous_outcome', `must be the outcome stored now, one of ${OUTCOMES.join(', ')} (or null: none yet)`);
  }

  let occurredAt;
  if (!absent(body.occurred_at)) {
    const ms = parseIsoTime(body.occurred_at);
    if (ms === null) {
      throw new ValidationError('occurred_at', 'must be an ISO 8601 time with a time zone, e.g. 2026-03-01T14:30:00Z');
    }
    if (ms > nowMs + OUTCOME_FUTURE_SLACK_MS) throw new ValidationError('occurred_at', 'is in the future');
    occurredAt = new Date(ms).toISOString();
  }
  if (!absent(body.correction) && typeof body.correction !== 'boolean') {
    throw new ValidationError('correction', 'must be true or false');
  }
  let note;
  if (!absent(body.note)) {
    if (typeof body.note !== 'string') throw new ValidationError('note', 'must be a string');
    if ([...body.note].length > NOTE_MAX_CHARS) throw new ValidationError('note', `must be at most ${NOTE_MAX_CHARS} characters`);
    note = body.note;
  }
  return { matchId: id.toLowerCase(), lawyerId, outcome, previousOutcome, occurredAt, correction: body.correction === true, note };
}

module.exports = {
  ValidationError, parseMatchRequest, parseLawyerQuery, parseOutcomeRequest, parseIsoTime,
  MATCH_LIMIT, PAGE_LIMIT, OUTCOME_FIELDS,
};
