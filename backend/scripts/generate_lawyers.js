#!/usr/bin/env node
'use strict';
// Generates data/lawyers.json: ~200 synthetic lawyer profiles, deterministic for a given seed.
// Run once (`npm run generate-lawyers`); the output is committed and seeds the SQLite directory
// on the backend's first start. Usage: node scripts/generate_lawyers.js [--count 200] [--seed 20261127]

const fs = require('node:fs');
const path = require('node:path');
const { CASE_TYPES, LANGUAGES, REGIONS } = require('../lib/vocab');
const { REGION_CENTROIDS } = require('../lib/geo');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? Number(process.argv[i + 1]) : fallback;
}
const COUNT = arg('count', 200);
const SEED = arg('seed', 20261127);

// mulberry32: a small seeded PRNG, so the file is reproducible.
function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(SEED);
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const weighted = (pairs) => {
  const total = pairs.reduce((s, [, w]) => s + w, 0);
  let r = rand() * total;
  for (const [v, w] of pairs) { r -= w; if (r < 0) return v; }
  return pairs[pairs.length - 1][0];
};
const round = (x, digits) => Math.round(x * 10 ** digits) / 10 ** digits;
// Approximately normal, via the sum of uniforms.
const normal = () => rand() + rand() + rand() + rand() + rand() + rand() - 3;

const FIRST = ['Maria', 'James', 'Wei', 'Fatima', 'Jean', 'Linh', 'Carlos', 'Aisha', 'David', 'Sofia',
  'Minh', 'Omar', 'Claire', 'Ana', 'Michael', 'Li', 'Youssef', 'Emma', 'Luis', 'Hana', 'Robert', 'Mei',
  'Amira', 'Pierre', 'Thu', 'Daniel', 'Lucia', 'Samuel', 'Nadia', 'Grace', 'Diego', 'Chen', 'Layla',
  'Antoine', 'Quang', 'Patricia', 'Jorge', 'Yan', 'Karim', 'Elena'];
const LAST = ['Garcia', 'Smith', 'Zhang', 'Haddad', 'Dubois', 'Nguyen', 'Rodriguez', 'Johnson', 'Liu',
  'Mansour', 'Martin', 'Tran', 'Lopez', 'Williams', 'Wang', 'Khalil', 'Bernard', 'Pham', 'Hernandez',
  'Brown', 'Chen', 'Saleh', 'Moreau', 'Le', 'Martinez', 'Davis', 'Huang', 'Nasser', 'Laurent', 'Vo',
  'Gonzalez', 'Miller', 'Zhou', "O'Brien", 'Okafor', 'Kowalski', 'Rossi', 'Silva', 'Park', 'Cohen'];
// Contacts: obviously fictional but well-formed. 555-0100..0199 numbers are reserved for fiction
// (one block per area code, so up to 800 lawyers get distinct numbers), example.org for examples.
// Migration 005 gives rows seeded before it the very same values (keep the two in step).
const AREA_CODES = ['815', '779', '309', '630', '217', '224', '331', '847'];
function contactFor(id, region) {
  return {
    phone: `+1 ${AREA_CODES[Math.floor(id / 100) % AREA_CODES.length]}-555-01${String(id % 100).padStart(2, '0')}`,
    email: `lawyer${id}@example.org`,
    office_address: `${100 + id} Example Street, Suite ${(id % 9) + 1}, ` +
      `${region[0].toUpperCase()}${region.slice(1)} District (fictional)`,
    intake_url: `https://example.org/intake/lawyer-${id}`,
  };
}

// Second languages by how common they are among the clients.
const SECOND_LANGUAGE = [['es', 40], ['zh', 15], ['ar', 12], ['fr', 12], ['vi', 12], ['en', 9]];

/** `count` profiles from the seeded generator above (call once per process: it advances rand). */
function generate(count = COUNT) {
  const lawyers = [];
  const usedNames = new Set();
  for (let id = 1; id <= count; id++) {
    let name;
    do { name = `${pick(FIRST)} ${pick(LAST)}`; } while (usedNames.has(name));
    usedNames.add(name);

    const region = pick(REGIONS);
    const centre = REGION_CENTROIDS[region];
    // Offices scattered around the region's centroid (sd ~ 7 km in each direction).
    const lat = round(centre.lat + normal() * 0.063, 5);
    const lon = round(centre.lon + normal() * 0.084, 5);

    const first = rand() < 0.8 ? 'en' : pick(LANGUAGES.filter((l) => l !== 'en'));
    const languages = [first];
    const extra = weighted([[0, 45], [1, 40], [2, 15]]);
    while (languages.length < 1 + extra) {
      const l = weighted(SECOND_LANGUAGE);
      if (!languages.includes(l)) languages.push(l);
    }

    const experience = Math.min(45, Math.max(0, Math.round(2 + rand() * rand() * 40 + rand() * 3)));
    const rating = round(Math.min(5, Math.max(1, 3.9 + normal() * 0.55)), 1);
    const activeCases = Math.max(0, Math.round(14 + normal() * 7));
    const proBono = rand() < 0.15;
    const hourlyRate = proBono ? 0 : Math.round((90 + experience * 4 + rand() * 150) / 5) * 5;

    lawyers.push({
      id,
      name,
      specialization: pick(CASE_TYPES),
      languages,
      region,
      experience_years: experience,
      rating,
      active_cases: activeCases,
      hourly_rate: hourlyRate,
      location: { lat, lon },
      contact: contactFor(id, region),
    });
  }
  return lawyers;
}

function main() {
  const lawyers = generate();
  const out = path.join(__dirname, '..', 'data', 'lawyers.json');
  // One profile per line: readable, and diffs stay small.
  fs.writeFileSync(out, '[\n' + lawyers.map((l) => JSON.stringify(l)).join(',\n') + '\n]\n');
  console.log(`wrote ${lawyers.length} lawyers to ${out} (seed ${SEED})`);
}

if (require.main === module) main();

module.exports = { contactFor };
