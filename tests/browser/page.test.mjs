// End-to-end: the web page in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), served by the real backend, ranking through the REAL match service.
// Screenshots go to tests/browser/artifacts/ (git-ignored); their paths are printed.
// The page's languages, right to left and axe-core: languages.test.mjs.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startMatchService, startBackend, freePort, tempDir, api, readWhenQuiet } from '../backend/helpers.mjs';
import { chromium, CHROMIUM, CHROMIUM_ARGS, FORM, checkChromium, screenshot, fillForm, openPage as open, inViewport } from './support.mjs';

let ml;
let backend;      // with the real match service
let downBackend;  // whose match service is down
let emptyBackend; // whose directory has no lawyers
let context;
let userDataDir;

/** The page at / of base, ready (words and choices loaded). */
const openPage = (base, query = '?lang=en') => open(context, `${base}/${query}`);

before(async () => {
  checkChromium();
  ml = await startMatchService();
  backend = await startBackend({ mlUrl: ml.url });
  downBackend = await startBackend({ mlUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 500 });
  emptyBackend = await startBackend({ mlUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 500 });
  emptyBackend.directory.db.exec('DELETE FROM lawyers');
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
  await ml?.stop();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

describe('the web page', () => {
  test('fill the form, submit, see lawyers ranked best first', async () => {
    const { page, requests, problems } = await openPage(backend.url);
    assert.equal(await page.title(), 'LegalAid Connect — find a lawyer for your case');
    await fillForm(page);
    await page.click('#submit');
    await page.waitForSelector('#results li.lawyer');

    const cards = page.locator('#results li.lawyer');
    assert.equal(await cards.count(), 10);
    const percents = (await page.locator('#results .match-percent').allTextContents()).map((t) => Number(t.replace('%', '')));
    const probs = (await cards.evaluateAll((els) => els.map((e) => Number(e.dataset.probability))));
    for (let i = 1; i < probs.length; i++) {
      assert.ok(probs[i - 1] >= probs[i], `probabilities descend: ${probs}`);
      assert.ok(percents[i - 1] >= percents[i], `percentages descend: ${percents}`);
    }
    assert.deepEqual(percents, probs.map((p) => Math.round(p * 100)));

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
      next: e.querySelector('.next-step')?.textContent,
      reasons: [...e.querySelectorAll('.reason')].map((r) => ({ factor: r.dataset.factor, effect: r.classList[1], text: r.textContent })),
    })));
    contacts.forEach((c, i) => {
      const l = expected.body.lawyers[i];
      assert.equal(c.phone, l.contact.phone);
      assert.equal(c.tel, `tel:${l.contact.phone.replace(/[^0-9+]/g, '')}`);
      assert.equal(c.mail, `mailto:${l.contact.email}`);
      assert.equal(c.online, l.contact.intake_url);
      assert.equal(c.office, l.contact.office_address);
      assert.match(c.next, /^Call as soon as you can|^Call to ask for a first consultation/);
      assert.match(c.next, /passport/, 'immigration: what to bring');
      assert.match(c.next, /urgent/, 'urgency high: say so');
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

  test('the match service down: the error is brought into view and focused, and retry works the same way', async () => {
    const { page } = await openPage(downBackend.url);
    // A phone-sized window: the results panel sits below the form, out of view after submitting.
    await page.setViewportSize({ width: 390, height: 700 });
    await fillForm(page);
    await page.click('#submit');
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.locator('#error-message').textContent(), /matching service is not available/);
    assert.equal(await page.locator('#results').isHidden(), true);
    assert.equal(await page.locator('#submit').isEnabled(), true, 'the form is usable again');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'error', 'focus moves to the error (role=alert, tabindex=-1)');
    assert.equal(await page.getAttribute('#error', 'role'), 'alert');
    assert.equal(await inViewport(page, '#error'), true, 'the error is scrolled into view');
    await screenshot(page, 'service-down.png');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.keyboard.press('Tab'); // to the retry button inside the error
    assert.equal(await page.evaluate(() => document.activeElement.id), 'retry');
    await page.keyboard.press('Enter'); // retry from the keyboard
    await page.waitForFunction(() => !document.querySelector('#submit').disabled && !document.querySelector('#error').hidden);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'error');
    assert.equal(await inViewport(page, '#error'), true, 'in view again after the retry');
    await page.close();
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

  test('missing fields are flagged next to each field, and nothing is sent', async () => {
    const { page, requests } = await openPage(backend.url);
    const before = requests.length;
    await page.click('#submit');
    for (const field of ['case_type', 'urgency', 'case_complexity', 'client_language', 'client_region', 'client_income']) {
      assert.equal(await page.locator(`#${field}-error`).isVisible(), true, field);
    }
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
    await page.keyboard.press('Tab');
    await page.keyboard.press('ArrowDown');  // complexity 1
    await page.keyboard.press('ArrowDown');  // complexity 2
    await page.keyboard.press('Tab');
    await page.keyboard.press('ArrowDown');  // en
    await page.keyboard.press('Tab');
    await page.keyboard.press('ArrowDown');  // north
    await page.keyboard.press('Tab');        // latitude
    await page.keyboard.press('Tab');        // longitude
    await page.keyboard.press('Tab');        // use my location
    await page.keyboard.press('Tab');        // income
    await page.keyboard.type('35000');
    await page.keyboard.press('Enter');      // submits the form
    await page.waitForSelector('#results li.lawyer');
    const values = await page.evaluate(() => ({
      case_type: document.querySelector('#case_type').value,
      urgency: document.querySelector('input[name="urgency"]:checked')?.value,
      case_complexity: document.querySelector('#case_complexity').value,
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
