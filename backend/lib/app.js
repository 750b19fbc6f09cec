'use strict';
// The Express application: JSON API under /api and the web page (../../src) at /.

const path = require('node:path');
const express = require('express');
const { ValidationError, parseMatchRequest, parseLawyerQuery } = require('./validate');
const { MatchServiceError } = require('./matchService');
const { originOf, buildCandidates, mergeRanking } = require('./match');

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

/**
 * @param {object} deps
 * @param {ReturnType<import('./db').openDirectory>} deps.directory
 * @param {ReturnType<import('./matchService').createMatchClient>} deps.matchClient
 * @param {string} [deps.staticDir]   folder served at / (the web page)
 * @param {string} [deps.bodyLimit]   largest accepted JSON body
 * @param {(line: string) => void} [deps.log]
 */
function createApp({ directory, matchClient, staticDir = DEFAULT_STATIC_DIR, bodyLimit = '16kb', log = (l) => console.error(l) }) {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(securityHeaders);

  const api = express.Router();
  api.use(express.json({ limit: bodyLimit }));
  api.use((req, res, next) => { res.set('Cache-Control', 'no-store'); next(); });

  api.get('/health', async (req, res) => {
    const ml = await matchClient.health();
    res.json({
      status: ml.reachable ? 'ok' : 'degraded',
      lawyers: directory.count(),
      ml_service: ml,
    });
  });

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

  api.post('/match', async (req, res) => {
    const t0 = performance.now();
    const { caseFields, location, limit } = parseMatchRequest(req.body);
    const profiles = directory.all();
    if (profiles.length === 0) return res.json({ model_version: null, lawyers: [] });
    const origin = originOf(caseFields, location);
    const { lawyers, distances } = buildCandidates(caseFields, origin, profiles);
    const t1 = performance.now();
    const { model_version, ranking } = await matchClient.rank(caseFields, lawyers);
    const t2 = performance.now();
    // Where the time went, for the benchmark and the browser's network panel.
    res.set('Server-Timing', `prepare;dur=${(t1 - t0).toFixed(2)}, rank;dur=${(t2 - t1).toFixed(2)}`);
    res.json({
      model_version,
      case: caseFields,
      origin,
      candidates: profiles.length,
      lawyers: mergeRanking(ranking, profiles, distances, limit),
    });
  });

  api.use((req, res) => res.status(404).json({ error: `no such endpoint: ${req.method} ${req.path}` }));
  // Every error becomes JSON; no stack trace ever reaches the client.
  // eslint-disable-next-line no-unused-vars
  api.use((err, req, res, next) => {
    if (err instanceof ValidationError) {
      return res.status(400).json({ error: err.message, field: err.field });
    }
    if (err instanceof MatchServiceError) {
      log(`match service ${err.kind}: ${err.message}${err.detail ? ` (${err.detail})` : ''}`);
      return res.status(503).json({ error: `${err.message}; please try again shortly`, reason: err.kind });
    }
    if (err && err.type === 'entity.too.large') {
      return res.status(413).json({ error: `body: request body too large (limit ${bodyLimit})`, field: 'body' });
    }
    if (err && err.type === 'entity.parse.failed') {
      return res.status(400).json({ error: 'body: not valid JSON', field: 'body' });
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
