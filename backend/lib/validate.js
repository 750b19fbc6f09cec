'use strict';
// Request validation. Every failure is a ValidationError naming the offending field, which the
// API turns into 400 {"error": "...", "field": "..."}.

const { CASE_TYPES, LANGUAGES, REGIONS, URGENCIES } = require('./vocab');
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
    case_complexity: number(body, 'case_complexity', { min: 1, max: 5, integer: true }),
    urgency: category(body, 'urgency', URGENCIES),
    client_language: category(body, 'client_language', LANGUAGES),
    client_region: null,
    client_income: number(body, 'client_income', { min: 0 }),
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

module.exports = { ValidationError, parseMatchRequest, parseLawyerQuery, MATCH_LIMIT, PAGE_LIMIT };
