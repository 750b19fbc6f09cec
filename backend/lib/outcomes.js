'use strict';
// Matches and their outcomes in SQLite (migration 003): which lawyers the backend showed for each
// match_id, and what then happened for a shown (match_id, lawyer_id) pair. Outcomes become
// training labels (engaged = 1, declined / no_response = 0); see export via scripts/export_outcomes.js.

const { OUTCOME_LABELS } = require('./vocab');

/** An API error with an HTTP status other than 400 (404 unknown match or pair, 409 conflict). */
class OutcomeError extends Error {
  constructor(status, field, message, extra = {}) {
    super(message);
    this.name = 'OutcomeError';
    this.status = status;
    this.field = field;
    this.extra = extra;
  }
}

/** An occurred_at the store refuses (before the match); the API answers 400 naming the field. */
class OutcomeFieldError extends Error {
  constructor(field, message) {
    super(`${field}: ${message}`);
    this.name = 'OutcomeFieldError';
    this.field = field;
  }
}

/** A match_id that is already stored: the service repeated a prediction_id. */
class DuplicateMatchError extends Error {
  constructor(matchId) {
    super(`match_id ${matchId} is already recorded`);
    this.name = 'DuplicateMatchError';
  }
}

function toRecord(row) {
  return {
    match_id: row.match_id,
    lawyer_id: row.lawyer_id,
    outcome: row.outcome,
    label: row.label,
    occurred_at: row.occurred_at,
    recorded_at: row.recorded_at,
    corrected: row.corrected === 1,
  };
}

/** @param {import('better-sqlite3').Database} db  a connection to a database migrated to 003 */
function createOutcomeStore(db) {
  const stmts = {
    insertMatch: db.prepare('INSERT INTO matches (match_id, created_at, model_version) VALUES (?, ?, ?)'),
    insertShown: db.prepare(`INSERT INTO match_lawyers (match_id, lawyer_id, rank, match_probability)
      VALUES (?, ?, ?, ?)`),
    match: db.prepare('SELECT match_id, created_at, model_version FROM matches WHERE match_id = ?'),
    shown: db.prepare('SELECT lawyer_id, rank, match_probability FROM match_lawyers WHERE match_id = ? ORDER BY rank'),
    isShown: db.prepare('SELECT 1 FROM match_lawyers WHERE match_id = ? AND lawyer_id = ?').pluck(),
    outcome: db.prepare(`SELECT o.*, EXISTS (SELECT 1 FROM outcome_history h
        WHERE h.match_id = o.match_id AND h.lawyer_id = o.lawyer_id) AS corrected
      FROM outcomes o WHERE o.match_id = ? AND o.lawyer_id = ?`),
    insertOutcome: db.prepare(`INSERT INTO outcomes (match_id, lawyer_id, outcome, label, occurred_at, recorded_at, note)
      VALUES (@match_id, @lawyer_id, @outcome, @label, @occurred_at, @recorded_at, @note)`),
    archive: db.prepare(`INSERT INTO outcome_history
        (match_id, lawyer_id, outcome, label, occurred_at, recorded_at, note, replaced_at)
      SELECT match_id, lawyer_id, outcome, label, occurred_at, recorded_at, note, ?
      FROM outcomes WHERE match_id = ? AND lawyer_id = ?`),
    replace: db.prepare(`UPDATE outcomes SET outcome = @outcome, label = @label, occurred_at = @occurred_at,
        recorded_at = @recorded_at, note = @note
      WHERE match_id = @match_id AND lawyer_id = @lawyer_id`),
    history: db.prepare(`SELECT match_id, lawyer_id, outcome, label, occurred_at, recorded_at, note, replaced_at
      FROM outcome_history WHERE match_id = ? AND lawyer_id = ? ORDER BY id`),
  };

  /**
   * Keep one match: its id, model version and the lawyers shown ([{ lawyer_id, match_probability }]
   * best first), all in one transaction. Throws DuplicateMatchError if match_id is already stored.
   */
  const recordMatch = db.transaction((matchId, modelVersion, shown, createdAt) => {
    try {
      stmts.insertMatch.run(matchId, createdAt, modelVersion);
    } catch (err) {
      if (err && err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new DuplicateMatchError(matchId);
      throw err;
    }
    shown.forEach((l, i) => stmts.insertShown.run(matchId, l.lawyer_id, i + 1, l.match_probability));
  });

  /**
   * Record an outcome (a parsed POST /api/outcomes body) at nowIso. Returns { status, record }:
   * 201 first record; 200 a repeat (nothing written) or an applied correction. Throws OutcomeError
   * (404 unknown match or a lawyer not shown in it, 409 a different outcome without correction) or
   * OutcomeFieldError (occurred_at before the match). One transaction: two requests for the same
   * pair cannot both insert.
   */
  const recordOutcome = db.transaction((req, nowIso) => {
    const match = stmts.match.get(req.matchId);
    if (!match) throw new OutcomeError(404, 'match_id', `no match with match_id ${req.matchId}`);
    if (!stmts.isShown.get(req.matchId, req.lawyerId)) {
      throw new OutcomeError(404, 'lawyer_id', `lawyer ${req.lawyerId} was not shown in match ${req.matchId}`);
    }
    if (req.occurredAt !== undefined && Date.parse(req.occurredAt) < Date.parse(match.created_at)) {
      throw new OutcomeFieldError('occurred_at', `is before the match (created at ${match.created_at})`);
    }
    const existing = stmts.outcome.get(req.matchId, req.lawyerId);
    if (!existing) {
      stmts.insertOutcome.run({
        match_id: req.matchId,
        lawyer_id: req.lawyerId,
        outcome: req.outcome,
        label: OUTCOME_LABELS[req.outcome],
        occurred_at: req.occurredAt ?? nowIso,
        recorded_at: nowIso,
        note: req.note || null,
      });
      return { status: 201, record: toRecord(stmts.outcome.get(req.matchId, req.lawyerId)) };
    }
    if (!req.correction) {
      // A repeat of the stored outcome is idempotent: the stored record stands as it is.
      if (existing.outcome === req.outcome) return { status: 200, record: toRecord(existing) };
      throw new OutcomeError(409, 'outcome',
        `an outcome is already recorded for lawyer ${req.lawyerId} in match ${req.matchId}: "${existing.outcome}"; ` +
        'send "correction": true to replace it', { existing: toRecord(existing) });
    }
    // A correction: fields not sent keep their stored values; if nothing changes, nothing is written.
    const next = {
      match_id: req.matchId,
      lawyer_id: req.lawyerId,
      outcome: req.outcome,
      label: OUTCOME_LABELS[req.outcome],
      occurred_at: req.occurredAt ?? existing.occurred_at,
      recorded_at: nowIso,
      note: req.note === undefined ? existing.note : (req.note || null),
    };
    if (next.outcome === existing.outcome && next.occurred_at === existing.occurred_at && next.note === existing.note) {
      return { status: 200, record: toRecord(existing) };
    }
    stmts.archive.run(nowIso, req.matchId, req.lawyerId);
    stmts.replace.run(next);
    return { status: 200, record: toRecord(stmts.outcome.get(req.matchId, req.lawyerId)) };
  });

  return {
    recordMatch(matchId, modelVersion, shown, createdAt = new Date().toISOString()) {
      recordMatch(matchId, modelVersion, shown, createdAt);
    },
    recordOutcome(req, nowIso = new Date().toISOString()) {
      return recordOutcome(req, nowIso);
    },
    /** The stored match with its shown lawyers, best first, or null. */
    getMatch(matchId) {
      const m = stmts.match.get(matchId);
      return m ? { ...m, lawyers: stmts.shown.all(matchId) } : null;
    },
    /** The stored outcome row of one pair (with its note and corrected 0/1), or null. */
    getOutcome(matchId, lawyerId) { return stmts.outcome.get(matchId, lawyerId) ?? null; },
    /** The records corrections replaced for one pair, oldest first. */
    history(matchId, lawyerId) { return stmts.history.all(matchId, lawyerId); },
  };
}

module.exports = { createOutcomeStore, OutcomeError, OutcomeFieldError, DuplicateMatchError };
