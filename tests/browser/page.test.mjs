// End-to-end: the web page in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), served by the real backend, ranking through the REAL match service.
// Screenshots go to tests/browser/artifacts/ (git-ignored); their paths are printed.
// The page's languages, right to left and axe-core: languages.test.mjs.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, BACKEND, startMatchService, startBackend, startFakeService, freePort, tempDir, api, readWhenQuiet } from '../backend/helpers.mjs';
import { chromium, CHROMIUM, CHROMIUM_ARGS, FORM, checkChromium, screenshot, fillForm, openPage as open, inViewport } from './support.mjs';

const CONTRACT = JSON.parse(fs.readFileSync(path.join(BACKEND, 'lib', 'contract.json'), 'utf8'));
const EN = JSON.parse(fs.readFileSync(path.join(REPO, 'src', 'i18n', 'en.json'), 'utf8'));
const HELPLINE = Object.freeze({ phone: '+1 312-555-0142' });
// The colours of the bands (src/styles.css --good, --fair, --weak), as getComputedStyle gives them.
const BAND_COLOUR = { good: 'rgb(6, 118, 71)', fair: 'rgb(138, 75, 0)', weak: 'rgb(180, 35, 24)' };

let ml;
let backend;      // with the real match service
let downBackend;  // whose match service is down
let emptyBackend; // whose directory has no lawyers
let fake;         // a stand-in match service whose percentages are known in advance
let fakeBackend;
let context;
let userDataDir;

// The stand-in's percentages for lawyers 1-6 (the others 10%): two in each band, at its edges.
const FAKE_PROBABILITIES = [0.91, 0.695, 0.69, 0.5, 0.494, 0.2];

/** The page at / of base, ready (words and choices loaded). */
const openPage = (base, query = '?lang=en') => open(context, `${base}/${query}`);

before(async () => {
  checkChromium();
  ml = await startMatchService();
  backend = await startBackend({ mlUrl: ml.url });
  downBackend = await startBackend({ mlUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 500 });
  emptyBackend = await startBackend({ mlUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 500 });
  emptyBackend.directory.db.exec('DELETE FROM lawyers');
  fake = await startFakeService((req, res, body) => {
    if (req.url !== '/rank') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    const { case: c, lawyers } = JSON.parse(body);
    const p = (id) => (c.case_type === 'consumer' ? 0.45 - id / 1000 : FAKE_PROBABILITIES[id - 1] ?? 0.1);
    const ranking = lawyers.map((l) => ({ lawyer_id: l.lawyer_id, match_probability: p(l.lawyer_id) }))
      .sort((a, b) => b.match_probability - a.match_probability);
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ model_version: 'fake', prediction_id: crypto.randomBytes(16).toString('hex'), ranking }));
  });
  fakeBackend = await startBackend({ mlUrl: fake.url, helpline: HELPLINE });
  userDataDir = tempDir('legalaid-chromium-');
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1200, height: 900 },
  });
});

after(async () => {
  await context?.close();
  await backend?.close();
  await downBackend?.close();
  await emptyBackend?.close();
  await fakeBackend?.close();
  await fake?.close();
  await ml?.stop();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

describe('the web page', () => {
  test('fill the form, submit, see the lawyers who fit the case first, each group best first', async () => {
    const { page, requests, problems } = await openPage(backend.url);
    assert.equal(await page.title(), 'LegalAid Connect — find a lawyer for your case');
    await fillForm(page);
    await page.click('#submit');
    await page.waitForSelector('#results li.lawyer');

    const cards = page.locator('#results li.lawyer');
    assert.equal(await cards.count(), 10);
    const percents = (await page.locator('#results .match-percent').allTextContents()).map((t) => Number(t.replace('%', '')));
    const probs = (await cards.evaluateAll((els) => els.map((e) => Number(e.dataset.probability))));
    assert.deepEqual(percents, probs.map((p) => Math.round(p * 100)));
    // Two groups: those who handle immigration and speak Spanish, then the others, each best first.
    const groups = await page.locator('#results section.group').evaluateAll((els) => els.map((g) => ({
      kind: g.dataset.group,
      title: g.querySelector('h3').textContent,
      probs: [...g.querySelectorAll('li.lawyer')].map((e) => Number(e.dataset.probability)),
      eligible: [...g.querySelectorAll('li.lawyer')].map((e) => e.dataset.eligible),
    })));
    assert.equal(groups[0].kind, 'eligible');
    assert.equal(groups[0].title, 'Lawyers who handle Immigration cases and speak Spanish');
    assert.ok(groups[0].eligible.every((e) => e === 'true'));
    if (groups[1]) {
      assert.equal(groups[1].title, 'Other lawyers who may help');
      assert.ok(groups[1].eligible.every((e) => e === 'false'));
    }
    for (const g of groups) for (let i = 1; i < g.probs.length; i++) assert.ok(g.probs[i - 1] >= g.probs[i], `${g.kind}: ${g.probs}`);

    // The same order as the API gives for the same case.
    const expected = await api(backend.url, '/api/match', { method: 'POST', json: {
      case_type: 'immigration', urgency: 'high', case_complexity: 4, client_language: 'es', client_region: 'central', client_income: 18000,
    } });
    const ids = await cards.evaluateAll((els) => els.map((e) => Number(e.dataset.lawyerId)));
    assert.deepEqual(ids, expected.body.lawyers.map((l) => l.id));
    const names = await page.locator('#results .name').allTextContents();
    assert.deepEqual(names, expected.body.lawyers.map((l) => l.name));

    // Each card shows specialization, languages and rate (0 = pro bono).
    const first = expected.body.lawyers[0];
    const firstCard = await cards.first().textContent();
    assert.match(firstCard, /Specialization/);
    assert.match(firstCard, /Languages/);
    assert.match(firstCard, first.hourly_rate === 0 ? /Pro bono/ : /per hour/);
    assert.match(await page.locator('#status').textContent(), /Lawyers found: 10\b/);

    // What a percentage means is said once, above the first card; so is the next step.
    const body = await page.locator('body').innerText();
    const count = (text) => body.split(text).length - 1;
    assert.equal(count(EN['meaning.title']), 1);
    assert.equal(count(EN['next.title']), 1);
    assert.equal(await page.locator('.next-step').count(), 1);
    assert.ok((await page.locator('#meaning').boundingBox()).y < (await cards.first().boundingBox()).y);
    assert.ok((await page.locator('#next').boundingBox()).y < (await cards.first().boundingBox()).y);
    assert.deepEqual(await page.locator('#bands li').allTextContents(),
      ['Good match 70% or more', 'Fair match 50% to 69%', 'Weak match below 50%']);
    const next = await page.textContent('#next-step');
    assert.match(next, /^Call as soon as you can|^Call to ask for a first consultation/);
    assert.match(next, /passport/, 'immigration: what to bring');
    assert.match(next, /urgent/, 'urgency high: say so');
    assert.equal(count('Have ready:'), 1, 'the paragraph is not repeated on the cards');
    assert.equal(await page.locator('#error').isHidden(), true);

    // The model version is for operators (API, logs), not shown to clients.
    assert.match(expected.body.model_version, /\S/);
    assert.ok(!(await page.locator('body').innerText()).includes(expected.body.model_version), 'no model version on the page');
    assert.equal(await page.locator('#model-version').count(), 0);

    // Every card says how to reach the lawyer, with working links, and what to do next.
    const contacts = await cards.evaluateAll((els) => els.map((e) => ({
      tel: e.querySelector('a.contact-phone')?.getAttribute('href'),
      phone: e.querySelector('a.contact-phone')?.textContent,
      mail: e.querySelector('a.contact-email')?.getAttribute('href'),
      online: e.querySelector('a.contact-online')?.getAttribute('href'),
      office: e.querySelector('.contact-address')?.textContent,
      reasons: [...e.querySelectorAll('.reason')].map((r) => ({ factor: r.dataset.factor, effect: r.classList[1], text: r.textContent })),
    })));
    contacts.forEach((c, i) => {
      const l = expected.body.lawyers[i];
      assert.equal(c.phone, l.contact.phone);
      assert.equal(c.tel, `tel:${l.contact.phone.replace(/[^0-9+]/g, '')}`);
      assert.equal(c.mail, `mailto:${l.contact.email}`);
      assert.equal(c.online, l.contact.intake_url);
      assert.equal(c.office, l.contact.office_address);
      // Why this place: one plain sentence per factor, from the reasons the API computed.
      assert.deepEqual(c.reasons.map((r) => [r.factor, r.effect]), l.reasons.map((r) => [r.factor, r.effect]));
      const price = c.reasons.find((r) => r.factor === 'price').text;
      assert.match(price, l.hourly_rate === 0 ? /free/ : /of your monthly income|no income/);
      assert.match(c.reasons.find((r) => r.factor === 'language').text, l.languages.includes('es') ? /Speaks Spanish, your language/ : /Does not list Spanish/);
    });

    // Nothing is loaded from anywhere but the backend's own origin.
    assert.ok(requests.length >= 4);
    for (const url of requests) assert.ok(url.startsWith(backend.url) || url.startsWith('data:'), url);
    assert.deepEqual(problems, []);
    await screenshot(page, 'results.png');
    await page.close();
  });

  test('what the page says is kept is what is kept, under the reference it shows (phone width)', async () => {
    const { page, problems } = await openPage(backend.url);
    await page.setViewportSize({ width: 390, height: 844 });
    // Before any answer: the notice is on the first screen, above the first field.
    assert.equal(await inViewport(page, '#privacy-notice'), true);
    assert.match(await page.textContent('#privacy-notice'), /We keep your answers.*90 days.*730 days \(2 years\)/s);
    assert.doesNotMatch(await page.locator('body').innerText(), /nothing you enter is stored/i);
    await fillForm(page);
    await page.click('#submit');
    await page.waitForSelector('#results li.lawyer');
    const ref = await page.textContent('#match-id');
    assert.match(ref, /^[0-9a-f]{32}$/);
    await page.locator('#reference').scrollIntoViewIfNeeded();
    assert.equal(await inViewport(page, '#reference'), true);
    assert.match(await page.textContent('#reference'), /To have this search erased, send this reference to privacy@/);

    // The database keeps the match under that reference: the lawyers shown, in their order.
    const shown = await page.locator('#results li.lawyer').evaluateAll((els) => els.map((e) => Number(e.dataset.lawyerId)));
    const stored = backend.directory.db.prepare('SELECT lawyer_id FROM match_lawyers WHERE match_id = ? ORDER BY rank').all(ref);
    assert.deepEqual(stored.map((r) => r.lawyer_id), shown);
    // The match service's log keeps the answers under it (its line is written just after the answer).
    const text = await readWhenQuiet(ml.predictionLog, { until: (t) => t.includes(ref) });
    const line = text.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.prediction_id === ref);
    assert.ok(line, `a log line for ${ref}`);
    for (const field of ['case_type', 'urgency', 'client_language', 'client_region']) {
      assert.deepEqual([...new Set(line.features[field])], [FORM[field]], field);
    }
    assert.deepEqual([...new Set(line.features.client_income)], [Number(FORM.client_income)]);
    assert.deepEqual([...new Set(line.features.case_complexity)], [Number(FORM.case_complexity)]);
    assert.ok(shown.every((id) => line.lawyer_id.map(String).includes(String(id))), 'every lawyer shown was scored');

    // The link after the results leads to the full statement.
    await page.click('#reference a[href="#privacy"]');
    await page.waitForFunction(() => window.location.hash === '#privacy');
    assert.equal(await inViewport(page, '#privacy-title'), true);
    assert.deepEqual(problems, []);
    await screenshot(page, 'privacy-phone.png');
    await page.close();
  });

  test('the match service down: the lawyers who fit the case, nearest first, the help line, no apology', async () => {
    const { page, problems } = await openPage(downBackend.url);
    await page.setViewportSize({ width: 390, height: 844 });
    await fillForm(page, { ...FORM, case_type: 'housing', client_language: 'en', client_region: 'south' });
    const answered = page.waitForResponse((r) => r.url().endsWith('/api/match'));
    await page.click('#submit');
    const payload = await (await answered).json();
    await page.waitForSelector('#results li.lawyer');
    assert.equal(payload.ranked, false);
    assert.equal(await page.locator('#error').isHidden(), true, 'not an error: a list');
    assert.equal(await page.locator('#unranked').isVisible(), true);
    assert.equal(await page.textContent('#unranked h3'), EN['unranked.title']);
    assert.match(await page.textContent('#unranked-text'), /listed nearest first: first those who handle Housing cases and speak English/);
    // The help line, as a number to call, from the backend's configuration.
    const tel = page.locator('#unranked-helpline a.helpline-phone');
    assert.equal(await tel.textContent(), payload.helpline.phone);
    assert.equal(await tel.getAttribute('href'), `tel:${payload.helpline.phone.replace(/[^0-9+]/g, '')}`);
    assert.match(await page.textContent('#status'), /Lawyers found: 10, nearest first/);
    // The same lawyers as the API gives, with no percentage and no "what the percentages mean".
    const ids = await page.locator('#results li.lawyer').evaluateAll((els) => els.map((e) => Number(e.dataset.lawyerId)));
    assert.deepEqual(ids, payload.lawyers.map((l) => l.id));
    assert.equal(await page.locator('#results .match-percent').count(), 0);
    assert.equal(await page.locator('#meaning').isHidden(), true);
    assert.equal(await page.locator('.next-step').count(), 1, 'the next step still, once');
    const distances = payload.lawyers.filter((l) => l.eligible).map((l) => l.distance_km);
    for (let i = 1; i < distances.length; i++) assert.ok(distances[i - 1] <= distances[i]);
    assert.equal(await page.locator('#reference').isHidden(), true, 'nothing was stored, so no reference');
    assert.deepEqual(problems, []);
    await screenshot(page, 'service-down.png');
    await page.close();
  });

  test('the backend gone: "our service is not answering" with the help line, never the client\'s connection; retry works the same way', async () => {
    const gone = await startBackend({ mlUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 500, helpline: HELPLINE });
    const { page } = await openPage(gone.url);
    await page.setViewportSize({ width: 390, height: 700 });
    await fillForm(page);
    await gone.close(); // after the page has loaded: every later request fails to connect
    await page.click('#submit');
    await page.waitForSelector('#error:not([hidden])');
    const message = await page.locator('#error').innerText();
    assert.match(message, /Our service is not answering right now/);
    assert.doesNotMatch(message, /connection|internet|network/i);
    const tel = page.locator('#error-helpline a.helpline-phone');
    assert.equal(await tel.textContent(), HELPLINE.phone, 'the number fetched when the page loaded');
    assert.equal(await tel.getAttribute('href'), 'tel:+13125550142');
    assert.equal(await page.locator('#submit').isEnabled(), true, 'the form is usable again');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'error', 'focus moves to the error (role=alert, tabindex=-1)');
    assert.equal(await page.getAttribute('#error', 'role'), 'alert');
    assert.equal(await inViewport(page, '#error'), true, 'the error is scrolled into view');
    await screenshot(page, 'backend-gone.png');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.keyboard.press('Tab'); // to the help line's number inside the error
    assert.equal(await page.evaluate(() => document.activeElement.className), 'helpline-phone');
    await page.keyboard.press('Tab'); // to the retry button
    assert.equal(await page.evaluate(() => document.activeElement.id), 'retry');
    await page.keyboard.press('Enter'); // retry from the keyboard
    await page.waitForFunction(() => !document.querySelector('#submit').disabled && !document.querySelector('#error').hidden);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'error');
    assert.equal(await inViewport(page, '#error'), true, 'in view again after the retry');
    await page.close();
  });

  test('each percentage has its band\'s word and colour; below 50% is never green; a weak best match gives the help line', async () => {
    // Housing in Chinese: one lawyer of the directory fits, so the stand-in's known percentages
    // (lawyers 1-6) fill the second group.
    const { page, problems } = await openPage(fakeBackend.url);
    await fillForm(page, { ...FORM, case_type: 'housing', client_language: 'zh' });
    await page.click('#submit');
    await page.waitForSelector('#results li.lawyer');
    const cards = await page.locator('#results li.lawyer').evaluateAll((els) => els.map((e) => ({
      p: Number(e.dataset.probability),
      band: e.dataset.band,
      text: e.querySelector('.match').textContent,
      colour: getComputedStyle(e.querySelector('.match')).color,
      bar: getComputedStyle(e.querySelector('.bar-fill')).backgroundColor,
    })));
    const expectBand = (p) => (Math.round(p * 100) >= 70 ? 'good' : Math.round(p * 100) >= 50 ? 'fair' : 'weak');
    const seen = new Set();
    for (const c of cards) {
      const band = expectBand(c.p);
      seen.add(band);
      assert.equal(c.band, band, `${c.p}`);
      assert.equal(c.colour, BAND_COLOUR[band], `${c.p}: ${c.colour}`);
      assert.ok(c.text.includes(EN[`band.${band}`]), `${c.p}: ${c.text}`);
      if (band !== 'good') assert.notEqual(c.bar, BAND_COLOUR.good, `${c.p}: the bar is not green`);
    }
    assert.deepEqual([...seen].sort(), ['fair', 'good', 'weak'], 'every band was shown');
    assert.ok(cards.some((c) => c.p === 0.695 && c.band === 'good' && c.text.startsWith('70%')), 'banded as shown: 69.5% shows as 70%, good');
    assert.ok(cards.some((c) => c.p === 0.494 && c.band === 'weak' && c.text.startsWith('49%')), '49% is weak, red');
    assert.equal(await page.locator('#weak-note').isHidden(), true, 'a good match is shown: no warning');
    const legend = await page.locator('#bands li').evaluateAll((els) => els.map((e) => [e.dataset.band, getComputedStyle(e.querySelector('.band-name')).color]));
    assert.deepEqual(legend, Object.entries(BAND_COLOUR), 'the legend uses the same colours');

    // Every percentage below 50% (the stand-in's answer for consumer cases): said above the list,
    // with the help line.
    await page.selectOption('#case_type', 'consumer');
    await page.click('#submit');
    await page.waitForFunction(() => document.querySelector('#results li.lawyer')?.dataset.band === 'weak');
    assert.equal(await page.locator('#results li.lawyer[data-band="good"]').count(), 0);
    assert.equal(await page.locator('#weak-note').isVisible(), true);
    assert.match(await page.textContent('#weak-note'), /Even the best match here is weak/);
    assert.equal(await page.textContent('#weak-note a.helpline-phone'), HELPLINE.phone);
    assert.deepEqual(problems, []);
    await screenshot(page, 'weak-match.png');
    await page.close();
  });

  test('no lawyer fits the case: the first group says so, and the others are shown as such', async () => {
    const only = await startBackend({ mlUrl: fake.url, helpline: HELPLINE });
    only.directory.db.exec("UPDATE lawyers SET specialization = 'criminal' WHERE specialization = 'family'");
    try {
      const { page, problems } = await openPage(only.url);
      await fillForm(page, { ...FORM, case_type: 'family', client_language: 'en' });
      await page.click('#submit');
      await page.waitForSelector('#results li.lawyer');
      assert.equal(await page.textContent('#group-eligible'), 'Lawyers who handle Family cases and speak English');
      assert.equal(await page.textContent('section.group.eligible .group-note'),
        'No lawyer in our directory both handles Family cases and speaks English. The lawyers below may still help.');
      assert.equal(await page.locator('section.group.eligible li.lawyer').count(), 0);
      assert.equal(await page.locator('section.group.fallback li.lawyer').count(), 10);
      assert.match(await page.textContent('section.group.fallback .group-note'), /do not handle Family cases, or do not list English.*interpreter/);
      assert.equal(await page.getAttribute('section.group.fallback ol', 'start'), null, 'numbered from 1');
      assert.deepEqual(problems, []);
      await page.close();
    } finally {
      await only.close();
    }
  });

  test('an empty directory: the page says no lawyer was found (not an error)', async () => {
    const { page, problems } = await openPage(emptyBackend.url);
    await fillForm(page);
    await page.click('#submit');
    await page.waitForFunction(() => document.querySelector('#status').classList.contains('empty'));
    assert.match(await page.textContent('#status'), /No lawyers were found/);
    assert.equal(await page.locator('#error').isHidden(), true);
    assert.equal(await page.locator('#results').isHidden(), true);
    assert.equal(await page.locator('#reference').isHidden(), true, 'nothing was matched, so no reference');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('the form asks in plain words: a region from a list, a question for complexity, the language from the page', async () => {
    const { page, problems } = await openPage(backend.url, '?lang=es');
    // No coordinates: no latitude, longitude or "use my location".
    assert.equal(await page.locator('#case-form input[type="number"]').count(), 1, 'income is the only number asked');
    assert.equal(await page.locator('#lat, #lon, #use-location, #location').count(), 0);
    // The regions of the contract, by name.
    const regions = await page.locator('#client_region option').evaluateAll((os) => os.slice(1).map((o) => o.value));
    assert.deepEqual(regions, CONTRACT.fields.client_region.vocab);
    // Complexity: one question, answers in words, each sending a level of the contract.
    const es = JSON.parse(fs.readFileSync(path.join(REPO, 'src', 'i18n', 'es.json'), 'utf8'));
    assert.equal(await page.textContent('#case_complexity legend'), es['form.case_complexity.legend']);
    const answers = await page.locator('input[name="case_complexity"]').evaluateAll((is) => is.map((i) => [i.value, i.closest('label').textContent.trim()]));
    const { min, max } = CONTRACT.fields.case_complexity;
    assert.deepEqual(answers.map(([v]) => Number(v)).sort(), Array.from({ length: max - min + 1 }, (_, i) => min + i));
    for (const [v, text] of answers) {
      assert.equal(text, es[`complexity.${v}`]);
      assert.doesNotMatch(text, /\d/, 'no self-rating on a number scale');
    }
    assert.deepEqual(answers.at(-1), ['3', es['complexity.3']], '"I do not know" comes last and counts as the middle');
    // The language of the case follows the page's until the client picks one.
    assert.equal(await page.inputValue('#client_language'), 'es');
    await page.selectOption('#ui-language', 'fr');
    await page.waitForFunction(() => document.documentElement.lang === 'fr');
    assert.equal(await page.inputValue('#client_language'), 'fr');
    await page.selectOption('#client_language', 'ar');
    await page.selectOption('#ui-language', 'en');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    assert.equal(await page.inputValue('#client_language'), 'ar', 'the client\'s own choice is kept');
    // What is sent: the region's name and the answer's level.
    await page.selectOption('#case_type', 'family');
    await page.check('input[name="urgency"][value="low"]');
    await page.check('input[name="case_complexity"][value="3"]');
    await page.selectOption('#client_region', 'east');
    await page.fill('#client_income', '12000');
    const sent = page.waitForRequest((r) => r.url().endsWith('/api/match'));
    await page.click('#submit');
    assert.deepEqual(JSON.parse((await sent).postData()), {
      case_type: 'family', urgency: 'low', client_language: 'ar', client_region: 'east', case_complexity: 3, client_income: 12000,
    });
    await page.waitForSelector('#results li.lawyer');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('missing fields are flagged next to each field, and nothing is sent', async () => {
    const { page, requests } = await openPage(backend.url);
    const before = requests.length;
    await page.click('#submit');
    for (const field of ['case_type', 'urgency', 'case_complexity', 'client_region', 'client_income']) {
      assert.equal(await page.locator(`#${field}-error`).isVisible(), true, field);
    }
    assert.equal(await page.inputValue('#client_language'), 'en', 'the page\'s language, already chosen');
    assert.equal(await page.locator('#client_language-error').isVisible(), false);
    assert.equal(await page.textContent('#case_complexity-error'), EN['error.case_complexity.required']);
    assert.equal(await page.getAttribute('#case_type', 'aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'case_type', 'focus on the first bad field');
    assert.equal(await inViewport(page, '#case_type'), true);
    assert.equal(requests.length, before, 'no request for an invalid form');
    await fillForm(page, { ...FORM, client_income: '-5' });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.click('#submit');
    assert.match(await page.locator('#client_income-error').textContent(), /0 or more/);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'client_income');
    assert.equal(await inViewport(page, '#client_income-error'), true, 'the message is in view with its field');
    await screenshot(page, 'validation.png');
    await page.close();
  });

  test('usable with the keyboard alone', async () => {
    const { page } = await openPage(backend.url);
    await page.focus('#case_type');
    await page.keyboard.press('ArrowDown'); // family
    await page.keyboard.press('Tab');        // urgency radios
    await page.keyboard.press('Space');      // low
    await page.keyboard.press('ArrowDown');  // medium
    await page.keyboard.press('Tab');        // the complexity question's first answer
    await page.keyboard.press('Space');      // "one clear question"
    await page.keyboard.press('ArrowDown');  // "one problem, but some facts or papers are missing"
    await page.keyboard.press('Tab');        // language: English already, from the page
    await page.keyboard.press('Tab');
    await page.keyboard.press('ArrowDown');  // north
    await page.keyboard.press('Tab');        // income
    await page.keyboard.type('35000');
    await page.keyboard.press('Enter');      // submits the form
    await page.waitForSelector('#results li.lawyer');
    const values = await page.evaluate(() => ({
      case_type: document.querySelector('#case_type').value,
      urgency: document.querySelector('input[name="urgency"]:checked')?.value,
      case_complexity: document.querySelector('input[name="case_complexity"]:checked')?.value,
      client_language: document.querySelector('#client_language').value,
      client_region: document.querySelector('#client_region').value,
      client_income: document.querySelector('#client_income').value,
      focused: document.activeElement.id,
    }));
    assert.deepEqual(values, { case_type: 'family', urgency: 'medium', case_complexity: '2', client_language: 'en',
      client_region: 'north', client_income: '35000', focused: 'results-title' });
    await page.close();
  });

  test('text from the database is shown as text, never run as HTML', async () => {
    const json = { case_type: 'housing', case_complexity: 2, urgency: 'low', client_language: 'en', client_region: 'south', client_income: 9000 };
    const top = (await api(backend.url, '/api/match', { method: 'POST', json })).body.lawyers[0];
    const evil = '<img src=x onerror="window.__pwned=1"><b>Bold</b>';
    backend.directory.db.prepare('UPDATE lawyers SET name = ?, office_address = ? WHERE id = ?').run(evil, evil, top.id);
    try {
      const { page } = await openPage(backend.url);
      await fillForm(page, { case_type: 'housing', urgency: 'low', case_complexity: '2', client_language: 'en', client_region: 'south', client_income: '9000' });
      await page.click('#submit');
      await page.waitForSelector('#results li.lawyer');
      assert.equal(await page.locator('#results .name').first().textContent(), evil);
      assert.equal(await page.locator('#results .contact-address').first().textContent(), evil);
      assert.equal(await page.locator('#results img, #results b').count(), 0);
      assert.equal(await page.evaluate(() => window.__pwned), undefined);
      await page.close();
    } finally {
      backend.directory.db.prepare('UPDATE lawyers SET name = ?, office_address = ? WHERE id = ?').run(top.name, top.contact.office_address, top.id);
    }
  });
});
