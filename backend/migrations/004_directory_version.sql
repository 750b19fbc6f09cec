-- 004: a counter that changes with every write to the directory (lawyers, lawyer_languages), from
-- any connection. lib/db.js keys its cached candidate list on it: since 003 every POST /api/match
-- writes (matches, match_lawyers), so "the database changed" no longer means "the directory changed".
CREATE TABLE directory_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
);
INSERT INTO directory_version (id, version) VALUES (1, 0);

CREATE TRIGGER lawyers_ai AFTER INSERT ON lawyers BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER lawyers_au AFTER UPDATE ON lawyers BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER lawyers_ad AFTER DELETE ON lawyers BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER lawyer_languages_ai AFTER INSERT ON lawyer_languages BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER lawyer_languages_au AFTER UPDATE ON lawyer_languages BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER lawyer_languages_ad AFTER DELETE ON lawyer_languages BEGIN UPDATE directory_version SET version = version + 1; END;
