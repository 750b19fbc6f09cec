'use strict';
// Request validation. A request is checked whole: every problem is collected (field by field, in
// the request's order) and one ValidationError reports them all, which the API turns into
// 400 {"error": "<the first problems in one sentence>", "field": "<the first one's>",
//      "errors": [{"field", "message"}, ...], "error_count": N}, as the match service reports its own.
//
// The case's category fields follow the match service (ml_model/request_validation.py): text the
// model does not know (say "Family", or "maritime") is not refused and not normalised; it goes to
// the service as sent, which scores it with that field ignored and names it in `warnings`. What the
// service refuses (not text, over 64 characters, not valid Unicode) the backend refuses first.

const { CASE_TYPES, LANGUAGES, REGIONS, URGENCIES, OUTCOMES, limitsOf } = require('./vocab');
const { nearestRegion } = require('./geo');

// As the match service (ml_model/schema.py): at most this many problems listed (error_count counts
// all), and the sentence joins problems up to about SUMMARY_CHARS. A category is text of at most
// MAX_TEXT_CHARS characters; a warning quotes at most SHORT_REPR_CHARS of a value. The tests hold
// MAX_TEXT_CHARS to the service's published description (ml_model/openapi.json).
const MAX_ERRORS = 20;
const SUMMARY_CHARS = 240;
const MAX_TEXT_CHARS = 64;
const SHORT_REPR_CHARS = 40;

/** The first problems' messages joined while short, then how many more there are (as the service). */
function summary(problems) {
  let text = problems[0].message;
  let shown = 1;
  for (const p of problems.slice(1)) {
    if (text.length + 2 + p.message.length > SUMMARY_CHARS) break;
    text += `; ${p.message}`;
    shown += 1;
  }
  if (problems.length > shown) text += ` (and ${problems.length - shown} more: see 'errors')`;
  return text;
}

class ValidationError extends Error {
  /** One problem with `field`, or `problems`: every problem of the request, [{field, message}] in order. */
  constructor(field, message, problems = [{ field, message: `${field}: ${message}` }]) {
    super(summary(problems));
    this.name = 'ValidationError';
    this.field = problems[0].field;
    this.problems = problems;
  }

  /** The 400 body: the sentence, the first field, the first MAX_ERRORS problems and their count. */
  toBody() {
    return {
      error: this.message,
      field: this.field,
      errors: this.problems.slice(0, MAX_ERRORS),
      error_count: this.problems.length,
    };
  }
}

/** The 400 body for a ValidationError, or for any error with one `field` and a message naming it. */
function refusalBody(err) {
  if (err instanceof ValidationError) return err.toBody();
  return { error: err.message, field: err.field, errors: [{ field: err.field, message: err.message }], error_count: 1 };
}

/** Collects a request's problems; `check()` throws one ValidationError with all of them. */
class Problems {
  constructor() { this.list = []; }

  /** Record that `field` `message` (e.g. 'is required'); returns undefined, for the value. */
  add(field, message) {
    this.list.push({ field, message: `${field}: ${message}` });
    return undefined;
  }

  check() {
    if (this.list.length) throw new ValidationError(null, null, this.list);
  }
}

const MATCH_LIMIT = { default: 10, max: 500 };
const PAGE_LIMIT = { default: 20, max: 100 };
const MAX_PAGE = 100000;

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const missing = (v) => v === undefined || v === null || v === '';

/** A value one of `vocab` exactly (an outcome, a filter), else a problem. */
function category(body, field, vocab, problems) {
  const v = body[field];
  if (missing(v)) return problems.add(field, 'is required');
  if (typeof v !== 'string' || !vocab.includes(v)) return problems.add(field, `must be one of ${vocab.join(', ')}`);
  return v;
}

/**
 * A value as Python's repr() quotes it in the service's messages: 'Family', "it's", at most
 * SHORT_REPR_CHARS characters then "… (N characters)". Escapes control characters and the quote;
 * other characters appear as they are.
 */
function shortRepr(value) {
  const chars = [...value];
  const head = chars.slice(0, SHORT_REPR_CHARS).join('');
  const quote = head.includes("'") && !head.includes('"') ? '"' : "'";
  const escaped = head.replace(/[\\\x00-\x1f\x7f]/g, (c) => {
    const named = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' }[c];
    return named || `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  }).split(quote).join(`\\${quote}`);
  return `${quote}${escaped}${quote}${chars.length > SHORT_REPR_CHARS ? `… (${chars.length} characters)` : ''}`;
}

/** The known value `value` differs from only in case or surrounding spaces ("Family "), or undefined. */
function closeMatch(value, vocab) {
  const folded = value.trim().toLowerCase();
  return vocab.find((v) => v.toLowerCase() === folded);
}

/** The warning for a case field the model does not know, worded as the service words its own. */
function unknownCategoryWarning(field, value, vocab) {
  const close = closeMatch(value, vocab);
  const hint = close ? ` (did you mean '${close}'?)` : ` (known: ${vocab.join(', ')})`;
  const chars = [...value];
  return {
    location: 'case',
    index: null,
    field,
    value: chars.length <= SHORT_REPR_CHARS ? value : `${chars.slice(0, SHORT_REPR_CHARS).join('')}…`,
    message: `unknown value ${shortRepr(value)} in field '${field}', scored with the field ignored${hint}`,
  };
}

/**
 * A case field of the data contract, checked as the match service checks it: text of at most
 * MAX_TEXT_CHARS characters of valid Unicode. A value outside `vocab` is kept as sent and a
 * warning is added to `warnings` (the service scores it with the field ignored).
 */
function caseCategory(body, field, vocab, problems, warnings) {
  const v = body[field];
  if (missing(v)) return problems.add(field, 'is required');
  if (typeof v !== 'string') return problems.add(field, `must be text, one of ${vocab.join(', ')}`);
  if (vocab.includes(v)) return v;
  if ([...v].length > MAX_TEXT_CHARS) return problems.add(field, `must be at most ${MAX_TEXT_CHARS} characters, got ${shortRepr(v)}`);
  if (!v.isWellFormed()) return problems.add(field, `must be valid Unicode text, got a lone surrogate in ${shortRepr(v)}`);
  warnings.push(unknownCategoryWarning(field, v, vocab));
  return v;
}

function number(body, field, problems, { min = -Infinity, max = Infinity, integer = false, required = true } = {}) {
  const v = body[field];
  if (missing(v)) return required ? problems.add(field, 'is required') : undefined;
  const range = `${integer ? 'an integer' : 'a number'}${Number.isFinite(min) ? ` >= ${min}` : ''}` +
    `${Number.isFinite(max) ? `${Number.isFinite(min) ? ' and' : ''} <= ${max}` : ''}`;
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    return problems.add(field, `must be ${range}`);
  }
  return v;
}

const NOT_AN_OBJECT = 'must be a JSON object (Content-Type: application/json)';

/**
 * client_region: as given; left out with a location, the region nearest to it. An unknown region
 * (a warning, as any case field) needs a location too: distances are measured from a known
 * region's centre, so without one it is a problem.
 */
function clientRegion(body, location, locationGiven, problems, warnings) {
  const region = body.client_region;
  if (missing(region) && locationGiven) return location ? nearestRegion(location.lat, location.lon) : null;
  if (!location && typeof region === 'string' && region !== '' && !REGIONS.includes(region)) {
    const close = closeMatch(region, REGIONS);
    return problems.add('client_region', `unknown value ${shortRepr(region)} and no location to measure distances ` +
      `from: give one of ${REGIONS.join(', ')}${close ? ` (did you mean '${close}'?)` : ''}, or a location {lat, lon}`);
  }
  return caseCategory(body, 'client_region', REGIONS, problems, warnings);
}

/**
 * POST /api/match body: the six client fields of the data contract, optionally
 * location {lat, lon} (then client_region may be left out: the nearest region is used) and limit.
 * Returns { caseFields, location, limit, warnings }: `warnings` names each case field the model
 * does not know, in the service's words (the service's own answer carries the same ones).
 * An unknown client_region needs a location: distances are measured from a known region's centre.
 */
function parseMatchRequest(body) {
  if (!isObject(body)) throw new ValidationError('body', NOT_AN_OBJECT);
  const problems = new Problems();
  const warnings = [];
  let location = null;
  const locationProblems = new Problems(); // read first (the region may come from it), listed after the case
  const locationGiven = body.location !== undefined && body.location !== null;
  if (locationGiven) {
    if (!isObject(body.location)) {
      locationProblems.add('location', 'must be an object {lat, lon}');
    } else {
      const lat = number(body.location, 'lat', locationProblems, { min: -90, max: 90 });
      const lon = number(body.location, 'lon', locationProblems, { min: -180, max: 180 });
      if (lat !== undefined && lon !== undefined) location = { lat, lon };
    }
  }
  const caseFields = {
    case_type: caseCategory(body, 'case_type', CASE_TYPES, problems, warnings),
    case_complexity: number(body, 'case_complexity', problems, limitsOf('case_complexity')),
    urgency: caseCategory(body, 'urgency', URGENCIES, problems, warnings),
    client_language: caseCategory(body, 'client_language', LANGUAGES, problems, warnings),
    client_region: clientRegion(body, location, locationGiven, problems, warnings),
    client_income: number(body, 'client_income', problems, limitsOf('client_income')),
  };
  problems.list.push(...locationProblems.list);
  const limit = number(body, 'limit', problems, { min: 1, max: MATCH_LIMIT.max, integer: true, required: false }) ?? MATCH_LIMIT.default;
  problems.check();
  return { caseFields, location, limit, warnings };
}

const GIVEN_TWICE = Symbol('given twice');

function queryValue(query, field, problems) {
  const v = query[field];
  if (Array.isArray(v) || isObject(v)) {
    problems.add(field, 'must be given once');
    return GIVEN_TWICE;
  }
  return v === undefined || v === '' ? undefined : v;
}

function queryInt(query, field, problems, { min, max, fallback }) {
  const v = queryValue(query, field, problems);
  if (v === GIVEN_TWICE) return undefined;
  if (v === undefined) return fallback;
  if (!/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max) {
    return problems.add(field, `must be an integer from ${min} to ${max}`);
  }
  return Number(v);
}

/** A filter: one of `vocab` exactly (a filter with a value no lawyer can have is a mistake, not a search). */
function queryCategory(query, field, vocab, problems) {
  const v = queryValue(query, field, problems);
  if (v === undefined || v === GIVEN_TWICE) return undefined;
  if (!vocab.includes(v)) return problems.add(field, `must be one of ${vocab.join(', ')}`);
  return v;
}

/** GET /api/lawyers query: filters specialization, language, region; page (1-based) and limit. */
function parseLawyerQuery(query) {
  const problems = new Problems();
  const filters = {
    specialization: queryCategory(query, 'specialization', CASE_TYPES, problems),
    language: queryCategory(query, 'language', LANGUAGES, problems),
    region: queryCategory(query, 'region', REGIONS, problems),
  };
  const page = queryInt(query, 'page', problems, { min: 1, max: MAX_PAGE, fallback: 1 });
  const limit = queryInt(query, 'limit', problems, { min: 1, max: PAGE_LIMIT.max, fallback: PAGE_LIMIT.default });
  problems.check();
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
  if (!isObject(body)) throw new ValidationError('body', NOT_AN_OBJECT);
  const problems = new Problems();
  for (const key of Object.keys(body)) {
    if (!OUTCOME_FIELDS.includes(key)) problems.add(key, `is not a known field (allowed: ${OUTCOME_FIELDS.join(', ')})`);
  }
  const id = body.match_id;
  if (missing(id)) {
    problems.add('match_id', 'is required');
  } else if (typeof id !== 'string' || !/^[0-9a-fA-F]{32}$/.test(id)) {
    problems.add('match_id', 'must be the 32 hex characters returned by POST /api/match');
  }
  const lawyerId = number(body, 'lawyer_id', problems, { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true });
  const outcome = category(body, 'outcome', OUTCOMES, problems);
  const previousOutcome = body.previous_outcome;
  if (!(previousOutcome === undefined || previousOutcome === null || OUTCOMES.includes(previousOutcome))) {
    problems.add('previous_outcome', `must be the outcome stored now, one of ${OUTCOMES.join(', ')} (or null: none yet)`);
  }

  let occurredAt;
  if (!absent(body.occurred_at)) {
    const ms = parseIsoTime(body.occurred_at);
    if (ms === null) {
      problems.add('occurred_at', 'must be an ISO 8601 time with a time zone, e.g. 2026-03-01T14:30:00Z');
    } else if (ms > nowMs + OUTCOME_FUTURE_SLACK_MS) {
      problems.add('occurred_at', 'is in the future');
    } else {
      occurredAt = new Date(ms).toISOString();
    }
  }
  if (!absent(body.correction) && typeof body.correction !== 'boolean') problems.add('correction', 'must be true or false');
  let note;
  if (!absent(body.note)) {
    if (typeof body.note !== 'string') problems.add('note', 'must be a string');
    else if ([...body.note].length > NOTE_MAX_CHARS) problems.add('note', `must be at most ${NOTE_MAX_CHARS} characters`);
    else note = body.note;
  }
  problems.check();
  return { matchId: id.toLowerCase(), lawyerId, outcome, previousOutcome, occurredAt, correction: body.correction === true, note };
}

module.exports = {
  ValidationError, refusalBody, parseMatchRequest, parseLawyerQuery, parseOutcomeRequest, parseIsoTime,
  unknownCategoryWarning, MATCH_LIMIT, PAGE_LIMIT, MAX_PAGE, OUTCOME_FIELDS, NOTE_MAX_CHARS, MAX_TEXT_CHARS, MAX_ERRORS,
};
