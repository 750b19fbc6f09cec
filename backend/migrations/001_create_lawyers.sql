-- 001: the lawyer directory.
CREATE TABLE lawyers (
  id               INTEGER PRIMARY KEY,
  name             TEXT    NOT NULL,
  specialization   TEXT    NOT NULL CHECK (specialization IN ('family','criminal','immigration','housing','employment','consumer','civil_rights')),
  region           TEXT    NOT NULL CHECK (region IN ('north','south','east','west','central')),
  experience_years REAL    NOT NULL CHECK (experience_years BETWEEN 0 AND 45),
  rating           REAL    NOT NULL CHECK (rating BETWEEN 1.0 AND 5.0),
  active_cases     INTEGER NOT NULL CHECK (active_cases >= 0),
  hourly_rate      REAL    NOT NULL CHECK (hourly_rate >= 0),  -- 0 = pro bono
  lat              REAL    NOT NULL CHECK (lat BETWEEN -90 AND 90),
  lon              REAL    NOT NULL CHECK (lon BETWEEN -180 AND 180)
);

-- A lawyer speaks one or more languages; position 0 is the primary one.
CREATE TABLE lawyer_languages (
  lawyer_id INTEGER NOT NULL REFERENCES lawyers(id) ON DELETE CASCADE,
  language  TEXT    NOT NULL CHECK (language IN ('en','es','zh','ar','fr','vi')),
  position  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (lawyer_id, language)
) WITHOUT ROWID;
