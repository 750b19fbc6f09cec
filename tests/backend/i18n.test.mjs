// The page's languages: one file src/i18n/<code>.json per language of the data contract, each with
// exactly the keys of English, the same {placeholders}, and a label for every vocabulary value the
// page shows. Pure file checks plus src/i18n.js imported in Node: no browser, no service.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, BACKEND } from './helpers.mjs';

const SRC = path.join(REPO, 'src');
const I18N = path.join(SRC, 'i18n');
const CONTRACT = JSON.parse(fs.readFileSync(path.join(BACKEND, 'lib', 'contract.json'), 'utf8'));
const LANGUAGES = CONTRACT.fields.client_language.vocab;
const dicts = Object.fromEntries(fs.readdirSync(I18N).filter((f) => f.endsWith('.json'))
  .map((f) => [f.replace(/\.json$/, ''), JSON.parse(fs.readFileSync(path.join(I18N, f), 'utf8'))]));
const EN = dicts.en;
const { pickLanguage, placeholdersOf, createTranslator, reasonText, directionOf, segmentsOf } = await import(path.join(SRC, 'i18n.js'));
// What the privacy statement quotes (the retention periods are mlops/params.yaml's: tests/test_privacy_statement.py).
const PRIVACY = JSON.parse(fs.readFileSync(path.join(SRC, 'privacy.json'), 'utf8'));

// The vocabularies the page shows, and the contract fields whose values it labels with them.
const PAGE_VOCABS = ['case_type', 'urgency', 'client_language', 'client_region'];
const LABELLED_WITH = { lawyer_specialization: 'case_type', lawyer_language: 'client_language', lawyer_region: 'client_region' };

describe('translation files', () => {
  test('one file per language of the data contract, no more, no fewer', () => {
    assert.deepEqual(Object.keys(dicts).sort(), [...LANGUAGES].sort());
    assert.deepEqual([...LANGUAGES].sort(), ['ar', 'en', 'es', 'fr', 'vi', 'zh']);
  });

  for (const lang of LANGUAGES) {
    test(`${lang}: exactly the keys of en.json, every text non-empty, the same placeholders`, () => {
      const dict = dicts[lang];
      const missing = Object.keys(EN).filter((k) => !Object.hasOwn(dict, k));
      const extra = Object.keys(dict).filter((k) => !Object.hasOwn(EN, k));
      assert.deepEqual(missing, [], `${lang}.json lacks keys`);
      assert.deepEqual(extra, [], `${lang}.json has keys en.json does not`);
      for (const [key, text] of Object.entries(dict)) {
        assert.equal(typeof text, 'string', `${lang} ${key}`);
        assert.ok(text.trim().length > 0, `${lang} ${key} is empty`);
        assert.deepEqual(placeholdersOf(text), placeholdersOf(EN[key]), `${lang} ${key}: placeholders`);
        assert.doesNotMatch(text, /[<>]/, `${lang} ${key}: no markup`);
      }
      if (lang !== 'en') {
        const same = Object.keys(EN).filter((k) => dict[k] === EN[k] && !/^\{?[\w{} /.%]*\}?$|^Pro bono|^\d/.test(EN[k]));
        assert.ok(same.length <= 6, `${lang}: these look untranslated: ${same.join(', ')}`);
      }
    });
  }

  test('every vocabulary value of the contract that the page shows has a label in every language', () => {
    for (const [field, labelledBy] of Object.entries(LABELLED_WITH)) {
      for (const v of CONTRACT.fields[field].vocab) {
        assert.ok(CONTRACT.fields[labelledBy].vocab.includes(v), `${field} value ${v} is labelled through ${labelledBy}`);
      }
    }
    const lacking = [];
    for (const lang of LANGUAGES) {
      for (const field of PAGE_VOCABS) {
        for (const value of CONTRACT.fields[field].vocab) {
          if (!dicts[lang][`vocab.${field}.${value}`]) lacking.push(`${lang}: vocab.${field}.${value}`);
        }
      }
      for (const value of CONTRACT.fields.case_type.vocab) {
        for (const key of [`next_step.${value}`, `case_type_examples.${value}`]) if (!dicts[lang][key]) lacking.push(`${lang}: ${key}`);
      }
      const { min, max } = CONTRACT.fields.case_complexity;
      for (let n = min; n <= max; n++) if (!dicts[lang][`complexity.${n}`]) lacking.push(`${lang}: complexity.${n}`);
    }
    assert.deepEqual(lacking, []);
  });

  test('every key the page uses literally exists (index.html data-i18n, t(...) in the scripts)', () => {
    const html = fs.readFileSync(path.join(SRC, 'index.html'), 'utf8');
    const used = new Set([...html.matchAll(/data-i18n="([^"]+)"/g)].map((m) => m[1]));
    for (const file of ['app.js', 'i18n.js']) {
      const js = fs.readFileSync(path.join(SRC, file), 'utf8');
      for (const m of js.matchAll(/\bt\(\s*'([\w.]+)'/g)) used.add(m[1]);
      // keys handed on to setStatus, showError, errors.push...: every quoted dotted key of the dictionary's sections
      for (const m of js.matchAll(/'((?:card|error|status|form|meta|results|lang|reason|next|next_step|case|field|privacy|reference|helpline|unranked|meaning|band|group)\.[\w.]+)'/g)) used.add(m[1]);
      // keys built from a name: t(`band.${b.name}`), t(`group.${kind}.title`) ...
      for (const m of js.matchAll(/t\(`((?:band|group)\.)\$\{[^}]+\}((?:\.[\w]+)*)`/g)) {
        const names = m[1] === 'band.' ? ['good', 'fair', 'weak'] : ['eligible', 'fallback'];
        for (const n of names) used.add(`${m[1]}${n}${m[2]}`);
      }
    }
    assert.ok(used.size > 40, `found ${used.size} keys`);
    assert.deepEqual([...used].filter((k) => !Object.hasOwn(EN, k)), []);
  });

  test('the vocabularies are not retyped in the page\'s script', () => {
    const js = fs.readFileSync(path.join(SRC, 'app.js'), 'utf8');
    for (const v of [...CONTRACT.fields.case_type.vocab, ...CONTRACT.fields.client_region.vocab]) {
      assert.doesNotMatch(js, new RegExp(`['"]${v}['"]`), `app.js names ${v}`);
    }
  });
});

describe('the results: groups, what a percentage means, the next step, the help line', () => {
  const tr = (lang) => createTranslator(lang, dicts[lang]);
  const words = (lang) => ({ case_type: tr(lang).label('case_type', 'housing'), language: tr(lang).label('client_language', 'ar') });

  for (const lang of LANGUAGES) {
    test(`${lang}: every new sentence reads whole, with the case type, the language, the bands and the help line in it`, () => {
      const t = tr(lang);
      const whole = (text) => assert.ok(text && !/[{}]/.test(text) && !text.includes('.title'), `${lang}: ${text}`);
      for (const key of ['group.eligible.title', 'group.eligible.none', 'group.fallback.note', 'unranked.text']) {
        const text = t.t(key, words(lang));
        whole(text);
        assert.ok(text.includes(words(lang).case_type) && text.includes(words(lang).language), `${lang} ${key}: ${text}`);
      }
      whole(t.t('group.fallback.title'));
      // The bands' ranges, with the numbers the page uses (70% and up, 50-69%, below 50%).
      const pct = (x) => t.percent(x);
      for (const [key, params, must] of [
        ['band.from', { percent: pct(0.7) }, ['70']],
        ['band.between', { from: pct(0.5), to: pct(0.69) }, ['50', '69']],
        ['band.below', { percent: pct(0.5) }, ['50']],
      ]) {
        const text = t.t(key, params);
        whole(text);
        for (const n of must) assert.ok(text.includes(n), `${lang} ${key}: ${text}`);
      }
      for (const name of ['good', 'fair', 'weak']) whole(t.t(`band.${name}`));
      assert.equal(new Set(['good', 'fair', 'weak'].map((n) => t.t(`band.${n}`))).size, 3, 'three different words');
      // Every text that gives the help line has exactly one place for the number, and only those.
      for (const key of ['helpline.call', 'helpline.urgent', 'results.weak']) {
        const parts = t.segments(key, {}, ['phone']);
        assert.equal(parts.filter((p) => typeof p === 'object').length, 1, `${lang} ${key}`);
        for (const p of parts) if (typeof p === 'string') assert.doesNotMatch(p, /[{}]/);
      }
      const withPhone = Object.keys(dicts[lang]).filter((k) => placeholdersOf(dicts[lang][k]).includes('phone')).sort();
      assert.deepEqual(withPhone, ['helpline.call', 'helpline.urgent', 'results.weak']);
      // The next step is one paragraph per case type, plus urgency and cost, each a sentence.
      for (const key of ['next.title', 'next_step.cost', 'next_step.urgent', 'meaning.title', 'meaning.text', 'unranked.title']) whole(t.t(key));
    });

    test(`${lang}: the errors never send the client to check their own connection`, () => {
      const connection = {
        en: /connection|internet|network/i, es: /conexión|internet|red\b/i, fr: /connexion|internet|réseau/i,
        ar: /اتصالك|الإنترنت|الشبكة/, vi: /kết nối mạng|internet|mạng của bạn/i, zh: /网络|网路|连接/,
      }[lang];
      for (const key of Object.keys(dicts[lang]).filter((k) => k.startsWith('error.'))) {
        assert.doesNotMatch(dicts[lang][key], connection, `${lang} ${key}: ${dicts[lang][key]}`);
      }
    });
  }

  test('the complexity question has a plain answer for every level of the contract, none a bare number', () => {
    const { min, max } = CONTRACT.fields.case_complexity;
    for (const lang of LANGUAGES) {
      for (let n = min; n <= max; n++) {
        const text = dicts[lang][`complexity.${n}`];
        assert.doesNotMatch(text, /\d/, `${lang} complexity.${n}: ${text}`);
        assert.ok(text.length >= 3, `${lang} complexity.${n}`);
      }
      assert.equal(new Set(Array.from({ length: max - min + 1 }, (_, i) => dicts[lang][`complexity.${min + i}`])).size, max - min + 1);
    }
  });

  test('no coordinates are asked for any more, in any language', () => {
    for (const lang of LANGUAGES) {
      assert.deepEqual(Object.keys(dicts[lang]).filter((k) => /^form\.(lat|lon|location|use_location|locating)\b|^error\.location\./.test(k)), [], lang);
    }
  });
});

describe('choosing the language', () => {
  test('the browser\'s preferred languages pick the page\'s, region subtags ignored; ?lang= wins', () => {
    assert.equal(pickLanguage(LANGUAGES, ['es-MX', 'en-US']), 'es');
    assert.equal(pickLanguage(LANGUAGES, ['de-DE', 'fr-CA', 'en']), 'fr');
    assert.equal(pickLanguage(LANGUAGES, ['zh-TW']), 'zh');
    assert.equal(pickLanguage(LANGUAGES, ['AR']), 'ar');
    assert.equal(pickLanguage(LANGUAGES, ['de', 'pt-BR']), 'en', 'none offered: English');
    assert.equal(pickLanguage(LANGUAGES, []), 'en');
    assert.equal(pickLanguage(LANGUAGES, ['es'], 'vi'), 'vi');
    assert.equal(pickLanguage(LANGUAGES, ['es'], 'xx'), 'es', 'an unknown ?lang= is ignored');
    assert.equal(directionOf('ar'), 'rtl');
    for (const lang of LANGUAGES.filter((l) => l !== 'ar')) assert.equal(directionOf(lang), 'ltr');
  });

  test('every reason reads as a whole sentence in every language (no {placeholder} left)', () => {
    const reasons = [
      { factor: 'specialization', effect: 'plus', specialization: 'family', case_type: 'family' },
      { factor: 'specialization', effect: 'minus', specialization: 'criminal', case_type: 'family' },
      { factor: 'language', effect: 'plus', language: 'es', client_language: 'es' },
      { factor: 'language', effect: 'minus', language: 'en', client_language: 'vi' },
      { factor: 'price', effect: 'plus', hourly_rate: 0, client_income: 22000, income_share_per_hour: null },
      { factor: 'price', effect: 'minus', hourly_rate: 365, client_income: 22000, income_share_per_hour: 0.199 },
      { factor: 'price', effect: 'plus', hourly_rate: 50, client_income: 900000, income_share_per_hour: 0.001 },
      { factor: 'price', effect: 'minus', hourly_rate: 50, client_income: 0, income_share_per_hour: null },
      ...['plus', 'neutral', 'minus'].map((effect) => ({ factor: 'distance', effect, distance_km: 12.345 })),
      ...['plus', 'neutral', 'minus'].map((effect) => ({ factor: 'caseload', effect, active_cases: 21 })),
      { factor: 'record', effect: 'plus', rating: 4.5, experience_years: 12 },
    ];
    for (const lang of LANGUAGES) {
      const tr = createTranslator(lang, dicts[lang]);
      for (const r of reasons) {
        const text = reasonText(r, tr);
        assert.ok(text && !/[{}]/.test(text) && !/\breason\./.test(text), `${lang} ${JSON.stringify(r)}: ${text}`);
      }
      assert.match(reasonText(reasons[5], tr), /365/);
      assert.match(reasonText(reasons[5], tr), /20/, `${lang}: the share of a month's income`);
      assert.equal(reasonText({ factor: 'network_internals' }, tr), null, 'an unknown factor is not shown');
    }
  });
});

describe('the privacy statement', () => {
  const KEYS = Object.keys(EN).filter((k) => /^(privacy|privacy_notice|reference)\./.test(k) || k === 'footer.privacy');
  const params = (tr) => Object.fromEntries(Object.entries(PRIVACY.retention).map(([k, n]) => [k, tr.duration(n)]));

  test('privacy.json: a contact and a whole number of days for each store', () => {
    assert.equal(typeof PRIVACY.contact, 'string');
    assert.match(PRIVACY.contact, /^[^\s@]+@[^\s@]+\.[^\s@]+$|^https:\/\/\S+$/);
    assert.ok(Object.keys(PRIVACY.retention).length >= 6);
    for (const [k, n] of Object.entries(PRIVACY.retention)) assert.ok(Number.isInteger(n) && n > 0, `${k}: ${n}`);
  });

  for (const lang of LANGUAGES) {
    test(`${lang}: every text of the statement reads whole, with each period in days (and years when whole)`, () => {
      const tr = createTranslator(lang, dicts[lang]);
      assert.ok(KEYS.length > 30, `${KEYS.length} keys`);
      for (const key of KEYS) {
        const parts = segmentsOf(dicts[lang][key], { ...params(tr), reference: 'abc' }, ['contact', 'days', 'years']);
        for (const part of parts) {
          if (typeof part === 'string') assert.doesNotMatch(part, /[{}]/, `${lang} ${key}: a placeholder left: ${part}`);
        }
      }
      // The numbers read as the language says them, digits 0-9 kept.
      assert.equal(tr.duration(90), new Intl.NumberFormat(`${lang}-u-nu-latn`, { style: 'unit', unit: 'day', unitDisplay: 'long' }).format(90));
      assert.ok(tr.duration(90).includes('90') && !/[()（）]/.test(tr.duration(90)), `${lang}: ${tr.duration(90)}`);
      assert.match(tr.duration(730), /730.*[(（].*[)）]/, `${lang}: ${tr.duration(730)}`);
      const years = new Intl.NumberFormat(`${lang}-u-nu-latn`, { style: 'unit', unit: 'year', unitDisplay: 'long' }).format(2);
      assert.ok(tr.duration(730).includes(years), `${lang}: ${tr.duration(730)} says ${years}`);
      const text = (key) => tr.t(key, params(tr));
      assert.ok(text('privacy.log.retention').includes(tr.duration(PRIVACY.retention.prediction_log_days)));
      assert.ok(text('privacy.db.retention').includes(tr.duration(PRIVACY.retention.unlabelled_matches_days)));
      assert.ok(text('privacy.db.retention').includes(tr.duration(PRIVACY.retention.labelled_matches_days)));
      assert.ok(text('privacy_notice.text').includes(tr.duration(PRIVACY.retention.data_versions_days)));
    });
  }

  test('segmentsOf cuts a text at the placeholders an element fills, and fills the others', () => {
    assert.deepEqual(segmentsOf('Send {ref} to {contact}.', { ref: 'abc' }, ['contact']), ['Send abc to ', { name: 'contact' }, '.']);
    assert.deepEqual(segmentsOf('{contact}', {}, ['contact']), [{ name: 'contact' }]);
    assert.deepEqual(segmentsOf('No {x} here', {}, ['contact']), ['No {x} here']);
    assert.deepEqual(segmentsOf('', {}, ['contact']), []);
    const tr = createTranslator('en', EN);
    assert.deepEqual(tr.segments('no.such.key', {}, ['contact']), ['no.such.key']);
  });
});
