'use strict';
// Client of the ML match service (ml_model/predict_model.py): GET /health and POST /rank.
// Every call has a hard deadline (AbortSignal.timeout covers connecting, headers and body), and
// every failure becomes a MatchServiceError whose message is safe to show to a client.

class MatchServiceError extends Error {
  /** kind: 'unavailable' (nothing answers), 'timeout', 'bad_response' (garbage or error status). */
  constructor(kind, message, detail) {
    super(message);
    this.name = 'MatchServiceError';
    this.kind = kind;
    this.detail = detail; // for the server log only
  }
}

const PREDICTION_ID_RE = /^[0-9a-f]{32}$/;

const isTimeout = (err) => err && (err.name === 'TimeoutError' || err.name === 'AbortError');

function createMatchClient({ baseUrl = 'http://127.0.0.1:8000', timeoutMs = 2000 } = {}) {
  const base = baseUrl.replace(/\/+$/, '');

  /** fetch + read + JSON.parse under one deadline; returns { status, body }. */
  async function call(path, init, deadlineMs) {
    const signal = AbortSignal.timeout(deadlineMs);
    let res;
    let text;
    try {
      res = await fetch(base + path, { ...init, signal });
      text = await res.text();
    } catch (err) {
      if (isTimeout(err)) {
        throw new MatchServiceError('timeout', `the match service did not answer within ${deadlineMs} ms`);
      }
      const cause = err && err.cause ? `${err.cause.code || ''} ${err.cause.message || ''}`.trim() : '';
      throw new MatchServiceError('unavailable', 'the match service is unavailable', `${err.message} ${cause}`.trim());
    }
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      throw new MatchServiceError('bad_response', 'the match service returned an invalid response',
        `HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
    return { status: res.status, body };
  }

  return {
    baseUrl: base,
    timeoutMs,

    /** { reachable, status, model_version } or { reachable: false, error } — never throws. */
    async health(deadlineMs = Math.min(timeoutMs, 1000)) {
      try {
        const { status, body } = await call('/health', { method: 'GET' }, deadlineMs);
        if (status !== 200 || !body || typeof body !== 'object') {
          return { reachable: false, error: `the match service answered HTTP ${status}` };
        }
        return { reachable: true, status: String(body.status ?? 'unknown'), model_version: body.model_version ?? null };
      } catch (err) {
        return { reachable: false, error: err.message };
      }
    },

    /**
     * One POST /rank for all candidates. Returns
     * { model_version, prediction_id, ranking: [{ lawyer_id, match_probability }], warnings? }
     * with every entry checked against the candidates sent; throws MatchServiceError otherwise.
     */
    async rank(caseFields, lawyers) {
      const { status, body } = await call('/rank', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ case: caseFields, lawyers }),
      }, timeoutMs);
      if (status !== 200) {
        const why = body && typeof body.error === 'string' ? body.error : JSON.stringify(body).slice(0, 200);
        throw new MatchServiceError('bad_response', `the match service failed (HTTP ${status})`, why);
      }
      return checkRanking(body, lawyers);
    },
  };
}

function invalid(detail) {
  return new MatchServiceError('bad_response', 'the match service returned an invalid response', detail);
}

/** Validate the shape of a /rank answer against the candidates that were sent. */
function checkRanking(body, lawyers) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('answer is not a JSON object');
  const version = body.model_version;
  if (!((typeof version === 'string' && version.length > 0) || Number.isFinite(version))) {
    throw invalid('model_version missing');
  }
  // One id per request (uuid4 hex): the backend's match_id, which outcomes later refer to.
  if (typeof body.prediction_id !== 'string' || !PREDICTION_ID_RE.test(body.prediction_id)) {
    throw invalid('prediction_id missing or not 32 lowercase hex characters');
  }
  if (!Array.isArray(body.ranking)) throw invalid('ranking is not a list');
  if (body.ranking.length > lawyers.length) throw invalid('ranking has more entries than candidates');
  const sent = new Set(lawyers.map((l) => String(l.lawyer_id)));
  const seen = new Set();
  const ranking = body.ranking.map((entry, i) => {
    if (!entry || typeof entry !== 'object') throw invalid(`ranking[${i}] is not an object`);
    const id = entry.lawyer_id;
    const p = entry.match_probability;
    if (!(typeof id === 'string' || typeof id === 'number') || !sent.has(String(id))) {
      throw invalid(`ranking[${i}].lawyer_id is not a candidate`);
    }
    if (seen.has(String(id))) throw invalid(`ranking[${i}].lawyer_id is repeated`);
    seen.add(String(id));
    if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p > 1) {
      throw invalid(`ranking[${i}].match_probability is not a probability`);
    }
    return { lawyer_id: id, match_probability: p };
  });
  const answer = { model_version: String(version), prediction_id: body.prediction_id, ranking };
  // The service may add a list of warnings (say, about a value it scored as unknown): passed on as
  // they are, at most 100, when there are any (the backend validates every category first, so
  // normally there are none and the answer keeps its usual shape).
  if (Array.isArray(body.warnings) && body.warnings.length > 0) answer.warnings = body.warnings.slice(0, 100);
  return answer;
}

module.exports = { createMatchClient, MatchServiceError, checkRanking, PREDICTION_ID_RE };
