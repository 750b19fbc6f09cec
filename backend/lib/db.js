'use strict';
// The lawyer directory: SQLite through better-sqlite3, migrated and seeded on open.
//
// Migrations are the numbered files in ../migrations (NNN_name.sql), applied in order, each in
// its own transaction, and recorded in the schema_migrations table; an applied one is never
// re-run. The directory is seeded from ../data/lawyers.json when the lawyers table is empty.

const fs = require('node:fs');
const path = require('node:path');
const Database = require('better-sqlite3');

const BACKEND_DIR = path.join(__dirname, '..');
const MIGRATIONS_DIR = path.join(BACKEND_DIR, 'migrations');
const SEED_FILE = path.join(BACKEND_DIR, 'data', 'lawyers.json');

// Where the client data lives: the one place these paths are resolved (the server, the npm
// scripts and ../../scripts/privacy.py follow the same rules). A relative setting is taken from
// the backend folder (backend/), whatever folder the command was started in.
const DEFAULT_DB_PATH = path.join(BACKEND_DIR, 'var', 'lawyers.db');
const DEFAULT_EXPORT_DIR = path.join(BACKEND_DIR, 'var', 'exports');
const UNSTORED_FILE_NAME = 'unstored_matches.jsonl';
// Client data files are 0600 in 0700 folders, made so when created (never chmod afterwards).
const PRIVATE_FILE_MODE = 0o600;
const PRIVATE_DIR_MODE = 0o700;
// How long a statement waits for another connection's lock while the database is being opened
// and migrated (before the server listens, so blocking is harmless then).
const OPEN_BUSY_TIMEOUT_MS = 5000;

const fromBackend = (p) => (p === ':memory:' ? p : path.resolve(BACKEND_DIR, p));

/** DB_PATH (default backend/var/lawyers.db), absolute. */
function dbPathFrom(env = process.env) {
  return env.DB_PATH ? fromBackend(env.DB_PATH) : DEFAULT_DB_PATH;
}

/** OUTCOME_EXPORT_DIR (default backend/var/exports), absolute: where export-outcomes writes by default. */
function exportDirFrom(env = process.env) {
  return env.OUTCOME_EXPORT_DIR ? fromBackend(env.OUTCOME_EXPORT_DIR) : DEFAULT_EXPORT_DIR;
}

/**
 * UNSTORED_MATCHES_PATH (default unstored_matches.jsonl beside the database), absolute: matches the
 * service scored that the backend could not store (see lib/unstored.js).
 */
function unstoredPathFrom(env = process.env, dbPath = dbPathFrom(env)) {
  if (env.UNSTORED_MATCHES_PATH) return fromBackend(env.UNSTORED_MATCHES_PATH);
  const dir = dbPath === ':memory:' ? path.dirname(DEFAULT_DB_PATH) : path.dirname(fromBackend(dbPath));
  return path.join(dir, UNSTORED_FILE_NAME);
}

/** mkdir -p with every folder it creates 0700 (folders that already exist are left as they are). */
function makePrivateDir(dir) {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** A warning when an existing file or folder can be read by others than its owner, else null. */
function exposureOf(file) {
  let st;
  try { st = fs.statSync(file); } catch { return null; }
  if ((st.mode & 0o077) === 0) return null;
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
  return st.isDirectory()
    ? `folder ${file} is mode ${mode}: other users can list it; keep the database in a folder of its own, mode 0700`
    : `${file} is mode ${mode}: other users can read it; chmod 600 ${file}`;
}

function listMigrations(dir = MIGRATIONS_DIR) {
  return fs.readdirSync(dir)
    .map((file) => /^(\d+)_([\w-]+)\.sql$/.exec(file))
    .filter(Boolean)
    .map((m) => ({ version: Number(m[1]), name: m[2], file: path.join(dir, m[0]) }))
    .sort((a, b) => a.version - b.version);
}

/** Apply every migration not yet recorded; returns the versions applied now. */
function migrate(db, dir = MIGRATIONS_DIR) {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  )`);
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all());
  const record = db.prepare('INSERT INTO schema_migrations (version, name) VALUES (?, ?)');
  const done = [];
  for (const m of listMigrations(dir)) {
    if (applied.has(m.version)) continue;
    const sql = fs.readFileSync(m.file, 'utf8');
    db.transaction(() => { db.exec(sql); record.run(m.version, m.name); })();
    done.push(m.version);
  }
  return done;
}

/** Insert the committed profiles when the directory is empty; returns how many were inserted. */
function seed(db, file = SEED_FILE) {
  if (db.prepare('SELECT COUNT(*) FROM lawyers').pluck().get() > 0) return 0;
  const lawyers = JSON.parse(fs.readFileSync(file, 'utf8'));
  const insertLawyer = db.prepare(`INSERT INTO lawyers
    (id, name, specialization, region, experience_years, rating, active_cases, hourly_rate, lat, lon,
     phone, email, office_address, intake_url)
    VALUES (@id, @name, @specialization, @region, @experience_years, @rating, @active_cases, @hourly_rate, @lat, @lon,
     @phone, @email, @office_address, @intake_url)`);
  const insertLanguage = db.prepare('INSERT INTO lawyer_languages (lawyer_id, language, position) VALUES (?, ?, ?)');
  db.transaction(() => {
    for (const l of lawyers) {
      const c = l.contact || {};
      insertLawyer.run({
        ...l, lat: l.location.lat, lon: l.location.lon,
        phone: c.phone ?? null, email: c.email ?? null, office_address: c.office_address ?? null, intake_url: c.intake_url ?? null,
      });
      l.languages.forEach((lang, i) => insertLanguage.run(l.id, lang, i));
    }
  })();
  return lawyers.length;
}

const SELECT_PROFILE = `SELECT l.id, l.name, l.specialization, l.region, l.experience_years, l.rating,
    l.active_cases, l.hourly_rate, l.lat, l.lon, l.phone, l.email, l.office_address, l.intake_url,
    (SELECT group_concat(language, ',' ORDER BY position) FROM lawyer_languages
       WHERE lawyer_id = l.id) AS languages
  FROM lawyers l`;
// NULL parameters switch a filter off, so one prepared statement serves every combination.
const FILTER = `WHERE (@specialization IS NULL OR l.specialization = @specialization)
    AND (@region IS NULL OR l.region = @region)
    AND (@language IS NULL OR EXISTS
         (SELECT 1 FROM lawyer_languages ll WHERE ll.lawyer_id = l.id AND ll.language = @language))`;

/** A row as the API shows it. */
function toProfile(row) {
  return {
    id: row.id,
    name: row.name,
    specialization: row.specialization,
    languages: row.languages ? row.languages.split(',') : [],
    region: row.region,
    experience_years: row.experience_years,
    rating: row.rating,
    active_cases: row.active_cases,
    hourly_rate: row.hourly_rate,
    location: { lat: row.lat, lon: row.lon },
    // How to reach them (migration 005); a field not on file is null.
    contact: { phone: row.phone, email: row.email, office_address: row.office_address, intake_url: row.intake_url },
  };
}

/**
 * Create the database file 0600 (and its folders 0700) if it does not exist yet. SQLite gives its
 * -wal and -shm files the database file's mode, so they are 0600 from their creation too.
 */
function createPrivateDatabaseFile(file) {
  makePrivateDir(path.dirname(file));
  try {
    fs.closeSync(fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_RDWR, PRIVATE_FILE_MODE));
  } catch (err) {
    if (err.code !== 'EEXIST') throw err;
  }
}

/**
 * Open (creating, migrating and seeding if needed) the directory at dbPath.
 * Returns a small repository object whose statements are prepared once here.
 *
 * busyTimeoutMs: how long a statement waits for another connection's write lock once open.
 * better-sqlite3 is synchronous, so that wait blocks Node's event loop: keep it at a few ms and
 * retry asynchronously instead (lib/busy.js). WAL mode lets readers go on while another
 * connection writes, so only writes ever wait.
 */
function openDirectory(dbPath = dbPathFrom(), { seedFile = SEED_FILE, busyTimeoutMs = 5 } = {}) {
  const file = fromBackend(dbPath);
  if (file !== ':memory:') createPrivateDatabaseFile(file);
  const db = new Database(file);
  db.pragma(`busy_timeout = ${OPEN_BUSY_TIMEOUT_MS}`);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  const migrated = migrate(db);
  const seeded = seed(db, seedFile);
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  const warnings = file === ':memory:' ? []
    : [exposureOf(path.dirname(file)), exposureOf(file)].filter(Boolean);

  const stmts = {
    list: db.prepare(`${SELECT_PROFILE} ${FILTER} ORDER BY l.id LIMIT @limit OFFSET @offset`),
    count: db.prepare(`SELECT COUNT(*) FROM lawyers l ${FILTER}`).pluck(),
    byId: db.prepare(`${SELECT_PROFILE} WHERE l.id = ?`),
    all: db.prepare(`${SELECT_PROFILE} ORDER BY l.id`),
    total: db.prepare('SELECT COUNT(*) FROM lawyers').pluck(),
    // Changes whenever the directory (lawyers, lawyer_languages) is written, by any connection:
    // triggers keep the counter (migration 004). A cheap check that the cached candidate list below
    // is still current; writes to other tables (every match is recorded) leave it alone.
    version: db.prepare('SELECT version FROM directory_version').pluck(),
  };
  let cache = { version: null, profiles: null };
  const filters = (f) => ({
    specialization: f.specialization ?? null,
    region: f.region ?? null,
    language: f.language ?? null,
  });

  return {
    db,
    path: file,
    migrated,
    seeded,
    /** Modes that let other users read the data (a database made before files were private). */
    warnings,
    /** One page of the directory, filtered; { total, lawyers }. */
    list(f = {}, { limit = 20, offset = 0 } = {}) {
      const params = filters(f);
      return {
        total: stmts.count.get(params),
        lawyers: stmts.list.all({ ...params, limit, offset }).map(toProfile),
      };
    },
    get(id) {
      const row = stmts.byId.get(id);
      return row ? toProfile(row) : null;
    },
    /**
     * Every lawyer: the candidates for a match. Read from SQLite again only after a write to the
     * directory (reading and building 200 profiles costs ~1.5 ms here; the check ~0.01 ms). The
     * profiles are frozen because they are shared between requests.
     */
    all() {
      const version = stmts.version.get();
      if (cache.version !== version) {
        const profiles = stmts.all.all().map((row) => {
          const p = toProfile(row);
          Object.freeze(p.languages);
          Object.freeze(p.location);
          Object.freeze(p.contact);
          return Object.freeze(p);
        });
        cache = { version, profiles: Object.freeze(profiles) };
      }
      return cache.profiles;
    },
    count() { return stmts.total.get(); },
    close() { if (db.open) db.close(); },
  };
}

module.exports = {
  openDirectory, migrate, seed, listMigrations, makePrivateDir, exposureOf,
  dbPathFrom, exportDirFrom, unstoredPathFrom,
  BACKEND_DIR, DEFAULT_DB_PATH, DEFAULT_EXPORT_DIR, UNSTORED_FILE_NAME, PRIVATE_FILE_MODE, PRIVATE_DIR_MODE,
};
