'use strict';
// Matches and their outcomes in SQLite (migration 003): which lawyers the backend showed for each
// match_id, and what then happened for a shown (match_id, lawyer_id) pair. Outcomes become
// training labels (engaged = 1, declined / no_response = 0); see export via scripts/export_outcomes.js.

const { OUTCOME_LABELS } = require('./vocab');

/** An API error with an HTTP status other than 400 (404 unknown match or pair, 409 conflict); extra joins the body. */
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
   * 201 the first record of a pair; 200 a request identical to what is stored (nothing written:
   * safe to retry) or an applied change. A change (another outcome, occurred_at or note) applies
   * only if req.previousOutcome names the outcome stored now: a replay of an older correction then
   * finds another outcome stored and changes nothing. Throws OutcomeError (404 unknown match or a
   * lawyer not shown in it; 409 previous_outcome missing or not the stored one, naming it) or
   * OutcomeFieldError (occurred_at before the match). One IMMEDIATE transaction: it takes the
   * write lock before reading, so two requests for the same pair cannot both act on what they
   * read, and a busy database is met at the start, where SQLite's busy timeout applies, not half
   * way (lib/busy.js then retries the whole call).
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
    const pair = `lawyer ${req.lawyerId} in match ${req.matchId}`;
    const existing = stmts.outcome.get(req.matchId, req.lawyerId);
    if (!existing) {
      if (req.previousOutcome !== undefined && req.previousOutcome !== null) {
        throw new OutcomeError(409, 'previous_outcome',
          `no outcome is recorded for ${pair}, but previous_outcome says "${req.previousOutcome}"; ` +
          'send the first record without previous_outcome', { stored_outcome: null, existing: null });
      }
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
    // Fields not sent keep their stored values; a request that changes nothing writes nothing,
    // whatever its previous_outcome (the retry of a correction that was applied, say).
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
    if (req.previousOutcome !== existing.outcome) {
      const changes = [next.outcome !== existing.outcome ? 'outcome' : null,
        next.occurred_at !== existing.occurred_at ? 'occurred_at' : null,
        next.note !== existing.note ? 'note' : null].filter(Boolean).join(', ');
      const said = req.previousOutcome === undefined || req.previousOutcome === null
        ? 'the request does not say which outcome it corrects'
        : `previous_outcome is "${req.previousOutcome}"`;
      throw new OutcomeError(409, 'previous_outcome',
        `the stored outcome for ${pair} is "${existing.outcome}" and ${said}; to change its ${changes}, ` +
        `send "previous_outcome": "${existing.outcome}" (nothing was changed)`,
        { stored_outcome: existing.outcome, existing: toRecord(existing) });
    }
    stmts.archive.run(nowIso, req.matchId, req.lawyerId);
    stmts.replace.run(next);
    return { status: 200, record: toRecord(stmts.outcome.get(req.matchId, req.lawyerId)) };
  });

  // IMMEDIATE: take the write lock first, so SQLite's busy timeout applies (a deferred transaction
  // that read first and then finds the lock taken fails at once, without waiting).
  return {
    recordMatch(matchId, modelVersion, shown, createdAt = new Date().toISOString()) {
      recordMatch.immediate(matchId, modelVersion, shown, createdAt);
    },
    recordOutcome(req, nowIso = new Date().toISOString()) {
      return recordOutcome.immediate(req, nowIso);
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
