-- 003: what the backend showed for each match, and what happened afterwards (training labels).
--
-- A match is one POST /api/match; its match_id is the match service's prediction_id, which the
-- service's prediction log also records, so an outcome can be joined back to the exact features
-- and model version that produced the ranking. Times are ISO 8601 UTC with milliseconds
-- (JavaScript's toISOString()), so text comparison orders them.
CREATE TABLE matches (
  match_id      TEXT PRIMARY KEY CHECK (length(match_id) = 32 AND match_id NOT GLOB '*[^0-9a-f]*'),
  created_at    TEXT NOT NULL,
  model_version TEXT NOT NULL
);

-- Only the lawyers actually returned to the client (after the limit), with their place in the list.
CREATE TABLE match_lawyers (
  match_id          TEXT    NOT NULL REFERENCES matches (match_id) ON DELETE CASCADE,
  lawyer_id         INTEGER NOT NULL REFERENCES lawyers (id),
  rank              INTEGER NOT NULL CHECK (rank >= 1),
  match_probability REAL    NOT NULL CHECK (match_probability BETWEEN 0 AND 1),
  PRIMARY KEY (match_id, lawyer_id),
  UNIQUE (match_id, rank)
) WITHOUT ROWID;
CREATE INDEX idx_match_lawyers_lawyer ON match_lawyers (lawyer_id);

-- The current outcome of one shown (match, lawyer) pair: engaged = label 1, the others label 0.
CREATE TABLE outcomes (
  match_id    TEXT    NOT NULL,
  lawyer_id   INTEGER NOT NULL,
  outcome     TEXT    NOT NULL CHECK (outcome IN ('engaged', 'declined', 'no_response')),
  label       INTEGER NOT NULL CHECK (label IN (0, 1)),
  occurred_at TEXT    NOT NULL,
  recorded_at TEXT    NOT NULL,  -- first recorded, or last corrected
  note        TEXT    CHECK (note IS NULL OR length(note) <= 500),
  CHECK (label = (outcome = 'engaged')),
  PRIMARY KEY (match_id, lawyer_id),
  FOREIGN KEY (match_id, lawyer_id) REFERENCES match_lawyers (match_id, lawyer_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX idx_outcomes_recorded_at ON outcomes (recorded_at);

-- The audit trail: every outcome record a correction replaced, as it was, and when it was replaced.
CREATE TABLE outcome_history (
  id          INTEGER PRIMARY KEY,
  match_id    TEXT    NOT NULL,
  lawyer_id   INTEGER NOT NULL,
  outcome     TEXT    NOT NULL CHECK (outcome IN ('engaged', 'declined', 'no_response')),
  label       INTEGER NOT NULL CHECK (label IN (0, 1)),
  occurred_at TEXT    NOT NULL,
  recorded_at TEXT    NOT NULL,
  note        TEXT,
  replaced_at TEXT    NOT NULL,
  FOREIGN KEY (match_id, lawyer_id) REFERENCES outcomes (match_id, lawyer_id) ON DELETE CASCADE
);
CREATE INDEX idx_outcome_history_pair ON outcome_history (match_id, lawyer_id);
