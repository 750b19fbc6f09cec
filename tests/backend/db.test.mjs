// The lawyer directory on a real SQLite file: migrations, seeding, filters and pagination.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { backendRequire, BACKEND, tempDir } from './helpers.mjs';

const { openDirectory, listMigrations } = backendRequire('./lib/db.js');
const { createOutcomeStore } = backendRequire('./lib/outcomes.js');
const Database = backendRequire('better-sqlite3');
const SEED = JSON.parse(fs.readFileSync(path.join(BACKEND, 'data', 'lawyers.json'), 'utf8'));

test('the seed file holds about 200 valid lawyer profiles', () => {
  assert.ok(SEED.length >= 150 && SEED.length <= 250, `got ${SEED.length}`);
  const ids = new Set(SEED.map((l) => l.id));
  assert.equal(ids.size, SEED.length, 'ids are unique');
  for (const l of SEED) {
    assert.ok(l.name && l.specialization && l.region && l.languages.length >= 1);
    assert.ok(l.experience_years >= 0 && l.experience_years <= 45);
    assert.ok(l.rating >= 1 && l.rating <= 5);
    assert.ok(Number.isInteger(l.active_cases) && l.active_cases >= 0);
    assert.ok(l.hourly_rate >= 0);
    assert.ok(Number.isFinite(l.location.lat) && Number.isFinite(l.location.lon));
  }
  assert.ok(SEED.some((l) => l.hourly_rate === 0), 'some lawyers work pro bono');
});

test('first open creates the file, applies numbered migrations and seeds; reopening changes nothing', () => {
  const dir = tempDir();
  const file = path.join(dir, 'nested', 'lawyers.db');
  try {
    const first = openDirectory(file);
    const versions = listMigrations().map((m) => m.version);
    assert.deepEqual(first.migrated, versions);
    assert.ok(versions.length >= 2 && versions[0] === 1);
    assert.equal(first.seeded, SEED.length);
    assert.equal(first.count(), SEED.length);
    const recorded = first.db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
    assert.deepEqual(recorded.map((r) => r.version), versions);
    first.close();
    assert.ok(fs.existsSync(file));

    const again = openDirectory(file);
    assert.deepEqual(again.migrated, [], 'no migration runs twice');
    assert.equal(again.seeded, 0, 'no second seeding');
    assert.equal(again.count(), SEED.length);
    again.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('profiles round-trip from the seed file, languages in order', () => {
  const dir = tempDir();
  try {
    const d = openDirectory(path.join(dir, 'l.db'));
    for (const l of SEED.slice(0, 20)) assert.deepEqual(d.get(l.id), l);
    assert.deepEqual(d.all(), SEED.slice().sort((a, b) => a.id - b.id));
    assert.equal(d.get(999999), null);
    d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the cached candidate list survives writes to other tables and follows the directory\'s, from any connection', () => {
  const dir = tempDir();
  const file = path.join(dir, 'l.db');
  try {
    const d = openDirectory(file);
    const first = d.all();
    assert.equal(d.all(), first, 'cached');
    createOutcomeStore(d.db).recordMatch('a'.repeat(32), 'v1', [{ lawyer_id: 1, match_probability: 0.5 }]);
    assert.equal(d.all(), first, 'recording a match does not drop the cache');

    d.db.prepare('UPDATE lawyers SET rating = 4.9 WHERE id = 1').run();
    const second = d.all();
    assert.notEqual(second, first);
    assert.equal(second.find((l) => l.id === 1).rating, 4.9);

    const other = new Database(file);
    other.prepare("INSERT INTO lawyer_languages (lawyer_id, language, position) VALUES (2, 'vi', 9)").run();
    other.close();
    const third = d.all();
    assert.notEqual(third, second, 'a write by another connection is seen');
    assert.ok(third.find((l) => l.id === 2).languages.includes('vi'));
    d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('filters and pagination agree with the seed data', () => {
  const dir = tempDir();
  try {
    const d = openDirectory(path.join(dir, 'l.db'));
    const cases = [
      {},
      { specialization: 'housing' },
      { language: 'es' },
      { region: 'north' },
      { specialization: 'immigration', language: 'es', region: 'central' },
    ];
    for (const f of cases) {
      const expected = SEED.filter((l) => (!f.specialization || l.specialization === f.specialization) &&
        (!f.region || l.region === f.region) && (!f.language || l.languages.includes(f.language)))
        .map((l) => l.id).sort((a, b) => a - b);
      const pages = [];
      for (let offset = 0; offset < expected.length + 7; offset += 7) {
        const { total, lawyers } = d.list(f, { limit: 7, offset });
        assert.equal(total, expected.length, JSON.stringify(f));
        assert.ok(lawyers.length <= 7);
        pages.push(...lawyers.map((l) => l.id));
      }
      assert.deepEqual(pages, expected, `pages of ${JSON.stringify(f)}`);
    }
    d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the schema refuses values outside the data contract', () => {
  const dir = tempDir();
  try {
    const d = openDirectory(path.join(dir, 'l.db'));
    const insert = d.db.prepare(`INSERT INTO lawyers (id, name, specialization, region, experience_years, rating,
      active_cases, hourly_rate, lat, lon) VALUES (?, 'X', ?, 'north', 5, ?, 1, 100, 41, -89)`);
    assert.throws(() => insert.run(100001, 'tax', 4), /CHECK/);
    assert.throws(() => insert.run(100002, 'family', 6), /CHECK/);
    assert.throws(() => d.db.prepare("INSERT INTO lawyer_languages VALUES (1, 'de', 3)").run(), /CHECK/);
    assert.throws(() => d.db.prepare("INSERT INTO lawyer_languages VALUES (424242, 'en', 0)").run(), /FOREIGN KEY/);
    d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
