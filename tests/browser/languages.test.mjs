// The page in each language of the data contract, in headless Chromium against the real backend
// and the REAL match service: it follows the browser's language, switches with its control,
// mirrors for Arabic, and axe-core (backend/node_modules, injected here) finds no serious or
// critical accessibility violation with results on screen. A screenshot per language goes to
// tests/browser/artifacts/lang-<code>.png and /tmp/legalaid-<code>.png. The privacy notice comes
// before the form, the full statement quotes every retention period of privacy.json, and the
// search's reference (its match_id) is shown after the results with where to send it for erasure.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, BACKEND, startMatchService, startBackend, freePort } from '../backend/helpers.mjs';
import { chromium, CHROMIUM, CHROMIUM_ARGS, FORM, checkChromium, screenshot, fillForm, openPage, runAxe, inViewport } from './support.mjs';

const CONTRACT = JSON.parse(fs.readFileSync(path.join(BACKEND, 'lib', 'contract.json'), 'utf8'));
const LANGUAGES = CONTRACT.fields.client_language.vocab;
const dict = (lang) => JSON.parse(fs.readFileSync(path.join(REPO, 'src', 'i18n', `${lang}.json`), 'utf8'));
const PRIVACY = JSON.parse(fs.readFileSync(path.join(REPO, 'src', 'privacy.json'), 'utf8'));
// The browser's own language setting for each: a regional tag, as browsers send it.
const LOCALE = { en: 'en-US', es: 'es-MX', zh: 'zh-CN', ar: 'ar-EG', fr: 'fr-FR', vi: 'vi-VN' };

let ml;
let backend;
let downBackend;
let browser;

before(async () => {
  checkChromium();
  ml = await startMatchService();
  backend = await startBackend({ mlUrl: ml.url });
  downBackend = await startBackend({ mlUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 500 });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await backend?.close();
  await downBackend?.close();
  await ml?.stop();
});

/** A fresh browser context whose language is `locale` (navigator.languages, Accept-Language). */
const contextFor = (locale, viewport = { width: 1200, height: 900 }) => browser.newContext({ locale, viewport });

const box = (page, selector) => page.locator(selector).first().boundingBox();

/** Every dictionary key seen as text on the page: none should be (a key shows only when missing). */
async function keysShown(page, words) {
  const text = await page.locator('body').innerText();
  return Object.keys(words).filter((k) => text.includes(k));
}

describe('the page in every language of the data contract', () => {
  for (const lang of LANGUAGES) {
    test(`${lang}: follows the browser's language, ranks, explains, and passes axe-core`, async () => {
      assert.ok(LOCALE[lang], `a browser locale for ${lang}`);
      const words = dict(lang);
      const context = await contextFor(LOCALE[lang]);
      try {
        const { page, problems, requests } = await openPage(context, `${backend.url}/`);
        assert.deepEqual(await page.evaluate(() => [document.documentElement.lang, document.documentElement.dir]),
          [lang, lang === 'ar' ? 'rtl' : 'ltr']);
        assert.equal(await page.title(), words['meta.title']);
        assert.equal(await page.inputValue('#ui-language'), lang, 'the switch shows the language in use');
        assert.equal(await page.textContent('#submit'), words['form.submit']);
        // The choices come from the contract, labelled from this language's file.
        const caseTypes = await page.locator('#case_type option').evaluateAll((os) => os.slice(1).map((o) => [o.value, o.textContent]));
        assert.deepEqual(caseTypes.map(([v]) => v), CONTRACT.fields.case_type.vocab);
        for (const [v, text] of caseTypes) assert.ok(text.startsWith(words[`vocab.case_type.${v}`]), `${lang} ${v}: ${text}`);
        const regions = await page.locator('#client_region option').evaluateAll((os) => os.slice(1).map((o) => o.textContent));
        assert.deepEqual(regions, CONTRACT.fields.client_region.vocab.map((v) => words[`vocab.client_region.${v}`]));
        const urgencies = await page.locator('input[name="urgency"]').evaluateAll((is) => is.map((i) => i.value));
        assert.deepEqual(urgencies, CONTRACT.fields.urgency.vocab);
        assert.equal(await page.inputValue('#client_language'), lang, '"language you prefer" starts as the page\'s');
        const complexity = await page.locator('input[name="case_complexity"]').evaluateAll((is) => is.map((i) => [i.value, i.closest('label').textContent.trim()]));
        for (const [v, text] of complexity) assert.equal(text, words[`complexity.${v}`]);

        // Before the search: what is kept, in plain words, above the form, with the periods in days.
        assert.ok((await box(page, '#privacy-notice')).y < (await box(page, '#case-form')).y, 'the notice comes before the form');
        const notice = await page.textContent('#privacy-notice');
        assert.ok(notice.includes(words['privacy_notice.title']));
        for (const n of [PRIVACY.retention.prediction_log_days, PRIVACY.retention.data_versions_days]) assert.match(notice, new RegExp(`\\b${n}\\b`));
        assert.doesNotMatch(notice, /[{}]/);
        // The full statement: every store's period and the contact, in this language.
        const statement = await page.textContent('#privacy');
        assert.ok(statement.includes(words['privacy.title']) && statement.includes(words['privacy.erase.title']));
        for (const [k, n] of Object.entries(PRIVACY.retention)) {
          if (k !== 'labelling_window_days') assert.match(statement, new RegExp(`\\b${n}\\b`), `${lang}: ${k}`);
        }
        assert.doesNotMatch(statement, /[{}]/, `${lang}: a placeholder left in the statement`);
        assert.equal(await page.getAttribute('#privacy a.privacy-contact', 'href'), `mailto:${PRIVACY.contact}`);

        await fillForm(page, { ...FORM, client_income: '22000' });
        const answered = page.waitForResponse((r) => r.url().endsWith('/api/match'));
        await page.click('#submit');
        const matchId = (await (await answered).json()).match_id;
        await page.waitForSelector('#results li.lawyer');
        assert.equal(await page.locator('#results li.lawyer').count(), 10);
        // After the results: the search's reference, and where to send it to have the search erased.
        assert.match(matchId, /^[0-9a-f]{32}$/);
        assert.equal(await page.textContent('#match-id'), matchId);
        assert.equal(await page.isVisible('#reference'), true);
        assert.equal(await page.getAttribute('#match-id', 'dir'), 'ltr');
        const erase = page.locator('#reference-erase a.privacy-contact');
        assert.equal(await erase.textContent(), PRIVACY.contact);
        assert.equal(await erase.getAttribute('href'),
          `mailto:${PRIVACY.contact}?subject=${encodeURIComponent(words['reference.email_subject'].replace('{reference}', matchId))}`);
        assert.equal(await page.textContent('#status'), words['status.found'].replace('{count}', '10'));
        const first = page.locator('#results li.lawyer').first();
        assert.equal(await first.locator('.contact h5').first().textContent(), words['card.contact.title']);
        assert.equal(await first.locator('.reasons h5').textContent(), words['card.reasons.title']);
        // Said once, above the list: the next step, and what the percentages mean with the three bands.
        assert.ok((await page.textContent('#next-step')).startsWith(words['next_step.immigration']));
        assert.equal(await page.locator('.next-step').count(), 1);
        assert.equal(await page.textContent('#meaning-title'), words['meaning.title']);
        const bands = await page.locator('#bands .band-name').allTextContents();
        assert.deepEqual(bands, ['good', 'fair', 'weak'].map((b) => words[`band.${b}`]));
        assert.equal(await page.textContent('#group-eligible'),
          words['group.eligible.title'].replace('{case_type}', words['vocab.case_type.immigration']).replace('{language}', words['vocab.client_language.es']));
        for (const card of await page.locator('#results li.lawyer').all()) {
          assert.ok((await card.locator('.match').textContent()).includes(words[`band.${await card.getAttribute('data-band')}`]));
        }
        assert.equal(await first.locator('.reason').count(), 6);
        assert.match(await first.locator('a.contact-phone').textContent(), /^\+1 \d{3}-555-01\d{2}$/);
        assert.deepEqual(await keysShown(page, words), [], 'no untranslated key on screen');

        if (lang === 'ar') {
          // Mirrored: the form on the right, the results on the left; in a card, the contacts on
          // the right of the reasons; the language switch on the left of the header.
          const [form, results] = [await box(page, '.panel'), await box(page, '#results-panel')];
          assert.ok(form.x > results.x, 'form panel right of the results');
          assert.ok((await box(page, '#results .contact')).x > (await box(page, '#results .reasons')).x);
          assert.ok((await box(page, '.lang-switch')).x < (await box(page, '.site-header h1')).x);
          // Phone numbers and e-mail addresses still read left to right.
          assert.equal(await first.locator('a.contact-phone').getAttribute('dir'), 'ltr');
        }

        // (axe's color-contrast rule passes over Arabic text: it takes joined letters for icon-font
        // ligatures. The colours are the same CSS in every language, checked by the other runs.)
        const { serious, others } = await runAxe(page);
        if (others.length) console.log(`axe ${lang}, minor/moderate: ${JSON.stringify(others)}`);
        assert.deepEqual(serious, [], `${lang}: serious or critical accessibility violations`);

        for (const url of requests) assert.ok(url.startsWith(backend.url) || url.startsWith('data:'), url);
        assert.deepEqual(problems, []);
        await screenshot(page, `lang-${lang}.png`, { also: `/tmp/legalaid-${lang}.png` });

        // The notice's link leads to the full statement.
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.click('#privacy-notice a');
        await page.waitForFunction(() => window.location.hash === '#privacy');
        assert.equal(await inViewport(page, '#privacy-title'), true, 'the statement is brought into view');
      } finally {
        await context.close();
      }
    });
  }

  for (const lang of ['en', 'ar']) {
    for (const width of [390, 1280]) {
      test(`${lang} at ${width} px: results readable, nothing wider than the window, axe-core clean (screenshot)`, async () => {
        const context = await contextFor(LOCALE[lang], { width, height: 900 });
        try {
          const { page, problems } = await openPage(context, `${backend.url}/`);
          await fillForm(page, { ...FORM, case_type: 'housing', client_language: lang, client_region: 'south', client_income: '9000' });
          await page.click('#submit');
          await page.waitForSelector('#results li.lawyer');
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
          assert.ok(overflow <= 0, `${overflow} px wider than the window`);
          // On a phone the panels stack: the results under the form; on a desktop, side by side.
          const [form, results] = [await box(page, '.panel'), await box(page, '#results-panel')];
          if (width === 390) assert.ok(results.y > form.y + form.height - 1, 'stacked');
          else assert.ok(Math.abs(results.y - form.y) < 2, 'side by side');
          const { serious } = await runAxe(page);
          assert.deepEqual(serious, []);
          assert.deepEqual(problems, []);
          await screenshot(page, `results-${lang}-${width}.png`, { also: `/tmp/legalaid-results-${lang}-${width}.png` });
        } finally {
          await context.close();
        }
      });
    }
  }

  test('the language switch re-renders everything in place, results included, and the address keeps it', async () => {
    const context = await contextFor('en-US');
    try {
      const { page, problems } = await openPage(context, `${backend.url}/`);
      await fillForm(page);
      await page.click('#submit');
      await page.waitForSelector('#results li.lawyer');
      const ids = await page.locator('#results li.lawyer').evaluateAll((els) => els.map((e) => e.dataset.lawyerId));
      const ar = dict('ar');
      await page.selectOption('#ui-language', 'ar');
      await page.waitForFunction(() => document.documentElement.lang === 'ar');
      assert.equal(await page.evaluate(() => document.documentElement.dir), 'rtl');
      assert.equal(await page.textContent('#status'), ar['status.found'].replace('{count}', '10'));
      assert.equal(await page.textContent('#results li.lawyer .reasons h5 >> nth=0'), ar['card.reasons.title']);
      assert.deepEqual(await page.locator('#results li.lawyer').evaluateAll((els) => els.map((e) => e.dataset.lawyerId)), ids,
        'the same lawyers, nothing sent again');
      assert.equal(await page.inputValue('#case_type'), FORM.case_type, 'the answers are kept');
      assert.equal(await page.inputValue('#client_language'), FORM.client_language);
      assert.equal(new URL(page.url()).searchParams.get('lang'), 'ar');

      await page.selectOption('#ui-language', 'fr');
      await page.waitForFunction(() => document.documentElement.lang === 'fr');
      assert.equal(await page.evaluate(() => document.documentElement.dir), 'ltr');
      await page.reload();
      await page.waitForSelector('html[data-ready="true"]');
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'fr', '?lang=fr outranks the browser\'s English');
      assert.equal(await page.textContent('#submit'), dict('fr')['form.submit']);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('errors in Arabic: validation and "matching unavailable" (the plain list and the help line) are in view and pass axe-core', async () => {
    const context = await contextFor('ar', { width: 390, height: 740 });
    try {
      const ar = dict('ar');
      const { page } = await openPage(context, `${downBackend.url}/`);
      await page.click('#submit');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'case_type');
      assert.equal(await page.textContent('#case_type-error'), ar['error.case_type.required']);
      assert.equal(await inViewport(page, '#case_type-error'), true);
      let { serious } = await runAxe(page);
      assert.deepEqual(serious, [], 'validation state');

      await fillForm(page);
      await page.click('#submit');
      await page.waitForSelector('#results li.lawyer');
      assert.equal(await page.locator('#error').isHidden(), true);
      assert.equal(await page.textContent('#unranked h3'), ar['unranked.title']);
      const helpline = page.locator('#unranked-helpline a.helpline-phone');
      assert.match(await helpline.textContent(), /^\+?[\d ()-.]+$/);
      assert.equal(await helpline.getAttribute('dir'), 'ltr', 'the number reads left to right');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'results-title');
      assert.equal(await inViewport(page, '#results-title'), true);
      assert.equal(await page.locator('#results .match-percent').count(), 0);
      ({ serious } = await runAxe(page));
      assert.deepEqual(serious, [], 'unranked state');
      await screenshot(page, 'lang-ar-unavailable.png', { also: '/tmp/legalaid-ar-unavailable.png' });

      // Our backend gone: in Arabic, our service is not answering, with the help line.
      await downBackend.close();
      downBackend = null;
      await page.click('#submit');
      await page.waitForSelector('#error:not([hidden])');
      assert.equal(await page.textContent('#error-message'), ar['error.network']);
      assert.ok(await page.isVisible('#error-helpline a.helpline-phone'));
      assert.equal(await page.evaluate(() => document.activeElement.id), 'error');
      assert.equal(await inViewport(page, '#error'), true);
      ({ serious } = await runAxe(page));
      assert.deepEqual(serious, [], 'error state');
      await screenshot(page, 'lang-ar-gone.png', { also: '/tmp/legalaid-ar-gone.png' });
    } finally {
      await context.close();
    }
  });
});
