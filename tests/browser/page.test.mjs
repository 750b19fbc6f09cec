// End-to-end: the web page in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), served by the real backend, ranking through the REAL match service.
// Screenshots go to tests/browser/artifacts/ (git-ignored); their paths are printed.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { backendRequire, startMatchService, startBackend, freePort, tempDir, api } from '../backend/helpers.mjs';

const { chromium } = backendRequire('playwright-core');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

const FORM = { case_type: 'immigration', urgency: 'high', case_complexity: '4', client_language: 'es', client_region: 'central', client_income: '18000' };

let ml;
let backend;      // with the real match service
let downBackend;  // whose match service is down
let context;
let userDataDir;

async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${file}`);
  return file;
}

async function fillForm(page, values = FORM) {
  await page.selectOption('#case_type', values.case_type);
  await page.check(`input[name="urgency"][value="${values.urgency}"]`);
  await page.selectOption('#case_complexity', values.case_complexity);
  await page.selectOption('#client_language', values.client_language);
  await page.selectOption('#client_region', values.client_region);
  await page.fill('#client_income', values.client_income);
}

/** A page that records every request it makes and every console error. */
async function openPage(base) {
  const page = await context.newPage();
  const requests = [];
  const problems = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  await page.goto(`${base}/`, { waitUntil: 'load' });
  return { page, requests, problems };
}

before(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
  ml = await startMatchService();
  backend = await startBackend({ mlUrl: ml.url });
  downBackend = await startBackend({ mlUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 500 });
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
    assert.match(await page.locator('#status').textContent(), /10 lawyers found/);
    assert.match(await page.locator('#model-version').textContent(), new RegExp(expected.body.model_version));
    assert.equal(await page.locator('#error').isHidden(), true);

    // Nothing is loaded from anywhere but the backend's own origin.
    assert.ok(requests.length >= 4);
    for (const url of requests) assert.ok(url.startsWith(backend.url) || url.startsWith('data:'), url);
    assert.deepEqual(problems, []);
    await screenshot(page, 'results.png');
    await page.close();
  });

  test('the match service down: the page shows the error state, and retry works the same way', async () => {
    const { page } = await openPage(downBackend.url);
    await fillForm(page);
    await page.click('#submit');
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.locator('#error-message').textContent(), /matching service is not available/);
    assert.equal(await page.locator('#results').isHidden(), true);
    assert.equal(await page.locator('#submit').isEnabled(), true, 'the form is usable again');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'retry', 'focus moves to the retry button');
    await screenshot(page, 'service-down.png');
    await page.keyboard.press('Enter'); // retry from the keyboard
    await page.waitForFunction(() => !document.querySelector('#submit').disabled && !document.querySelector('#error').hidden);
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
    assert.equal(requests.length, before, 'no request for an invalid form');
    await fillForm(page, { ...FORM, client_income: '-5' });
    await page.click('#submit');
    assert.match(await page.locator('#client_income-error').textContent(), /0 or more/);
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
    backend.directory.db.prepare('UPDATE lawyers SET name = ? WHERE id = ?').run(evil, top.id);
    try {
      const { page } = await openPage(backend.url);
      await fillForm(page, { case_type: 'housing', urgency: 'low', case_complexity: '2', client_language: 'en', client_region: 'south', client_income: '9000' });
      await page.click('#submit');
      await page.waitForSelector('#results li.lawyer');
      assert.equal(await page.locator('#results .name').first().textContent(), evil);
      assert.equal(await page.locator('#results img, #results b').count(), 0);
      assert.equal(await page.evaluate(() => window.__pwned), undefined);
      await page.close();
    } finally {
      backend.directory.db.prepare('UPDATE lawyers SET name = ? WHERE id = ?').run(top.name, top.id);
    }
  });
});
