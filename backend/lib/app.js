'use strict';
// The Express application: JSON API under /api and the web page (../../src) at /.

const crypto = require('node:crypto');
const path = require('node:path');
const express = require('express');
const { ValidationError, refusalBody, parseMatchRequest, parseLawyerQuery, parseOutcomeRequest } = require('./validate');
const { MatchServiceError } = require('./matchService');
const { originOf, buildCandidates, mergeRanking, plainOrder, withReasons } = require('./match');
const { helplineFrom } = require('./config');
const { CONTRACT } = require('./vocab');
const OPENAPI = require('./openapi.json');
const { createOutcomeStore, OutcomeError, OutcomeFieldError, DuplicateMatchError } = require('./outcomes');
const { retryBusy, isBusy, DatabaseBusyError } = require('./busy');
const { createUnstoredLog } = require('./unstored');
const { unstoredPathFrom } = require('./db');

const DEFAULT_STATIC_DIR = path.join(__dirname, '..', '..', 'src');

// The page and the API share one origin, so no CORS headers are sent at all: browsers then refuse
// cross-origin reads. The CSP keeps the page to its own files (no CDN, no inline script).
function securityHeaders(req, res, next) {
  res.set({
    'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
      "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Permissions-Policy': 'geolocation=(self), camera=(), microphone=()',
    'Cross-Origin-Resource-Policy': 'same-origin',
  });
  next();
}

const sha256 = (text) => crypto.createHash('sha256').update(text, 'utf8').digest();

/**
 * POST /api/outcomes is for the legal-aid organisation's intake workers only (outcomes become
 * training labels): `Authorization: Bearer <OUTCOMES_TOKEN>`. Unset token: 503, recording is off.
 * Both sides are hashed first, so timingSafeEqual compares equal-length buffers in constant time
 * and the token's length does not leak either. Runs before the body is parsed.
 */
function outcomeAuth(token) {
  const expected = token ? sha256(token) : null;
  return (req, res, next) => {
    if (!expected) {
      return res.status(503).json({ error: 'outcome recording is not configured (set OUTCOMES_TOKEN)' });
    }
    const m = /^Bearer +(\S+) *$/i.exec(req.get('authorization') || '');
    if (!m || !crypto.timingSafeEqual(sha256(m[1]), expected)) {
      res.set('WWW-Authenticate', 'Bearer realm="outcomes"');
      return res.status(401).json({ error: 'recording outcomes needs Authorization: Bearer <OUTCOMES_TOKEN>' });
    }
    return next();
  };
}

/** A match the service scored that could not be stored (not busy): 503 + Retry-After too. */
class MatchNotStoredError extends Error {
  constructor(cause) {
    super('the match could not be stored');
    this.name = 'MatchNotStoredError';
    this.cause = cause;
  }
}

/**
 * @param {object} deps
 * @param {ReturnType<import('./db').openDirectory>} deps.directory
 * @param {ReturnType<import('./matchService').createMatchClient>} deps.matchClient
 * @param {ReturnType<import('./outcomes').createOutcomeStore>} [deps.outcomes]  default: on directory.db
 * @param {string} [deps.outcomesToken]  bearer token for POST /api/outcomes; unset: that endpoint answers 503
 * @param {string} [deps.staticDir]   folder served at / (the web page)
 * @param {string} [deps.bodyLimit]   largest accepted JSON body
 * @param {{retries?: number, delayMs?: number, retryAfterS?: number, onRetry?: Function}} [deps.busy]  a busy
 *   database: writes are retried `retries` times, delayMs apart (doubling), then 503 with
 *   Retry-After: retryAfterS; onRetry(attempt, err) is told of each retry
 * @param {string} [deps.unstoredPath]  where matches that could not be stored are kept (lib/unstored.js);
 *   default unstored_matches.jsonl beside the database (UNSTORED_MATCHES_PATH)
 * @param {{phone: string}} [deps.helpline]  the help line given to clients (HELPLINE_PHONE, lib/config.js)
 * @param {(line: string) => void} [deps.log]
 */
function createApp({
  directory, matchClient, outcomes = createOutcomeStore(directory.db), outcomesToken,
  staticDir = DEFAULT_STATIC_DIR, bodyLimit = '16kb', busy = {},
  unstoredPath = unstoredPathFrom(process.env, directory.path), helpline = helplineFrom(process.env),
  log = (l) => console.error(l),
}) {
  const { retries = 3, delayMs = 25, retryAfterS = 1, onRetry } = busy;
  const unstored = createUnstoredLog(unstoredPath, { log });
  const whileBusy = (fn) => retryBusy(fn, { retries, delayMs, onRetry });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(securityHeaders);

  const api = express.Router();
  api.use((req, res, next) => { res.set('Cache-Control', 'no-store'); next(); });
  api.post('/outcomes', outcomeAuth(outcomesToken)); // before the body is even read
  api.use(express.json({ limit: bodyLimit }));

  api.get('/health', async (req, res) => {
    const ml = await matchClient.health();
    res.json({
      status: ml.reachable ? 'ok' : 'degraded',
      lawyers: directory.count(),
      ml_service: ml,
    });
  });

  // The data contract (generated from ml_model/schema.py): the page builds its choices (case
  // types, urgencies, languages, regions, ranges) from it instead of keeping its own copy.
  api.get('/contract', (req, res) => res.json(CONTRACT));

  // This API's own OpenAPI 3.1 description (lib/openapi.json, built by lib/openapi.js).
  api.get('/openapi.json', (req, res) => res.json(OPENAPI));

  api.get('/lawyers', (req, res) => {
    const { filters, page, limit, offset } = parseLawyerQuery(req.query);
    const { total, lawyers } = directory.list(filters, { limit, offset });
    res.json({ page, limit, total, total_pages: Math.ceil(total / limit), lawyers });
  });

  api.get('/lawyers/:id', (req, res) => {
    if (!/^\d{1,9}$/.test(req.params.id)) throw new ValidationError('id', 'must be a positive integer');
    const lawyer = directory.get(Number(req.params.id));
    if (!lawyer) return res.status(404).json({ error: `no lawyer with id ${req.params.id}` });
    res.json(lawyer);
  });

  // The help line, fetched by the page when it loads: what it gives a client if our service stops answering.
  api.get('/helpline', (req, res) => res.json(helpline));

  api.post('/match', async (req, res) => {
    const t0 = performance.now();
    const { caseFields, location, limit, warnings: requestWarnings = [] } = parseMatchRequest(req.body);
    const profiles = directory.all();
    if (profiles.length === 0) return res.json({ match_id: null, model_version: null, lawyers: [] });
    const origin = originOf(caseFields, location);
    const { lawyers, distances } = buildCandidates(caseFields, origin, profiles);
    const t1 = performance.now();
    let answer;
    try {
      answer = await matchClient.rank(caseFields, lawyers);
    } catch (err) {
      if (!(err instanceof MatchServiceError)) throw err;
      // Matching is unavailable: the client still gets the lawyers who fit the case, nearest first
      // (not ranked, nothing stored: there is no prediction to refer to), and the help line.
      log(`match service ${err.kind}: ${err.message}${err.detail ? ` (${err.detail})` : ''}; answered unranked`);
      return res.json({
        ranked: false, reason: err.kind, order: 'distance', match_id: null, model_version: null,
        case: caseFields, origin, candidates: profiles.length, helpline,
        lawyers: withReasons(plainOrder(profiles, distances, limit, caseFields), caseFields, lawyers),
        // An unknown category, in the words the service would have used (lib/validate.js).
        ...(requestWarnings.length ? { warnings: requestWarnings } : {}),
      });
    }
    const { model_version, prediction_id, ranking, warnings } = answer;
    const t2 = performance.now();
    if (warnings) log(`match service warnings for ${prediction_id}: ${JSON.stringify(warnings).slice(0, 500)}`);
    const shown = withReasons(mergeRanking(ranking, profiles, distances, limit, caseFields), caseFields, lawyers);
    // Keep which lawyers this match showed (only those returned), so outcomes can refer to them.
    // If that fails, the client is not shown the match (503: it retries, a new prediction), and
    // the match goes to the unstored file: the service logged it, so it is not lost silently.
    const createdAt = new Date().toISOString();
    const lawyerRows = shown.map((l) => ({ lawyer_id: l.id, match_probability: l.match_probability }));
    try {
      await whileBusy(() => outcomes.recordMatch(prediction_id, model_version, lawyerRows, createdAt));
    } catch (err) {
      const reason = err instanceof DuplicateMatchError ? 'duplicate_match_id'
        : err instanceof DatabaseBusyError ? 'database_busy' : 'storage_failed';
      unstored.write({
        match_id: prediction_id,
        model_version,
        created_at: createdAt,
        reason,
        error: String(err.message).slice(0, 300),
        lawyers: lawyerRows.map((l, i) => ({ lawyer_id: l.lawyer_id, rank: i + 1, match_probability: l.match_probability })),
      });
      if (err instanceof DuplicateMatchError) {
        throw new MatchServiceError('bad_response', 'the match service returned an invalid response',
          `prediction_id ${prediction_id} was already used by an earlier match`);
      }
      if (err instanceof DatabaseBusyError) throw err;
      log(`storing match ${prediction_id} failed: ${err && err.stack ? err.stack : err}`);
      throw new MatchNotStoredError(err);
    }
    const t3 = performance.now();
    // Where the time went, for the benchmark and the browser's network panel.
    res.set('Server-Timing', `prepare;dur=${(t1 - t0).toFixed(2)}, rank;dur=${(t2 - t1).toFixed(2)}, ` +
      `record;dur=${(t3 - t2).toFixed(2)}`);
    res.json({
      ranked: true,
      match_id: prediction_id,
      model_version,
      case: caseFields,
      origin,
      candidates: profiles.length,
      helpline,
      lawyers: shown,
      ...(warnings ? { warnings } : {}),
    });
  });

  // What happened after a match for one shown lawyer; recorded by an intake worker (see outcomeAuth).
  api.post('/outcomes', async (req, res) => {
    const now = Date.now();
    const parsed = parseOutcomeRequest(req.body, now);
    const { status, record } = await whileBusy(() => outcomes.recordOutcome(parsed, new Date(now).toISOString()));
    res.status(status).json(record);
  });

  api.use((req, res) => res.status(404).json({ error: `no such endpoint: ${req.method} ${req.path}` }));
  // Every error becomes JSON; no stack trace ever reaches the client.
  // eslint-disable-next-line no-unused-vars
  api.use((err, req, res, next) => {
    if (err instanceof ValidationError || err instanceof OutcomeFieldError) {
      return res.status(400).json(refusalBody(err)); // every problem: {error, field, errors, error_count}
    }
    if (err instanceof OutcomeError) {
      return res.status(err.status).json({ error: err.message, field: err.field, ...err.extra });
    }
    // Another connection holds the write lock (a backup, an erasure, a long export ...): the
    // client may simply try again shortly.
    if (err instanceof DatabaseBusyError || isBusy(err)) {
      log(`database busy on ${req.method} ${req.originalUrl}: ${err.cause ? err.cause.message : err.message}`);
      res.set('Retry-After', String(retryAfterS));
      return res.status(503).json({ error: 'the database is busy; please try again shortly', reason: 'database_busy' });
    }
    if (err instanceof MatchNotStoredError) {
      res.set('Retry-After', String(retryAfterS));
      return res.status(503).json({ error: 'the match could not be stored; please try again shortly', reason: 'storage_failed' });
    }
    if (err instanceof MatchServiceError) {
      log(`match service ${err.kind}: ${err.message}${err.detail ? ` (${err.detail})` : ''}`);
      return res.status(503).json({ error: `${err.message}; please try again shortly`, reason: err.kind });
    }
    if (err && err.type === 'entity.too.large') {
      return res.status(413).json({ error: `body: request body too large (limit ${bodyLimit})`, field: 'body' });
    }
    if (err && err.type === 'entity.parse.failed') {
      return res.status(400).json(refusalBody({ field: 'body', message: 'body: not valid JSON' }));
    }
    if (err && Number.isInteger(err.status) && err.status >= 400 && err.status < 500) {
      return res.status(err.status).json({ error: err.expose ? err.message : 'bad request' });
    }
    log(`internal error on ${req.method} ${req.originalUrl}: ${err && err.stack ? err.stack : err}`);
    return res.status(500).json({ error: 'internal error' });
  });
  app.use('/api', api);

  app.use(express.static(staticDir, { index: 'index.html', etag: true, maxAge: 0 }));
  app.use((req, res) => res.status(404).type('text/plain').send('Not found'));
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    const status = err && Number.isInteger(err.status) && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) log(`internal error on ${req.method} ${req.originalUrl}: ${err && err.stack ? err.stack : err}`);
    res.status(status).type('text/plain').send(status === 500 ? 'Internal error' : 'Bad request');
  });
  return app;
}

module.exports = { createApp, DEFAULT_STATIC_DIR };
