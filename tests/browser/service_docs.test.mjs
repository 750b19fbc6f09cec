// The match service's API page (GET /docs: Swagger UI from tools/swagger-ui/vendor, inlined by
// ml_model/openapi.py) in headless Chromium, served by the REAL match service: it renders every
// operation with its realistic examples, "Try it out" calls the service that served it, and it makes
// no request anywhere else (every other host is refused here, so a request would also fail loudly).
// Screenshots go to tests/browser/artifacts/ (git-ignored); their paths are printed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startMatchService, tempDir } from '../backend/helpers.mjs';
import { chromium, CHROMIUM, CHROMIUM_ARGS, checkChromium, screenshot } from './support.mjs';

let ml;
let context;
let userDataDir;

before(async () => {
  checkChromium();
  ml = await startMatchService();
  userDataDir = tempDir('legalaid-chromium-');
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
});

after(async () => {
  await context?.close();
  await ml?.stop();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

/** A page of `url` that records every request and console error; other hosts are refused. */
async function open(url) {
  const page = await context.newPage();
  const requests = [];
  const refused = [];
  const problems = [];
  await page.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(`${ml.url}/`) || u.startsWith('data:')) return route.continue();
    refused.push(u);
    return route.abort();
  });
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text()); });
  await page.goto(url, { waitUntil: 'load' });
  return { page, requests, refused, problems };
}

test('GET /docs renders every operation offline, with realistic examples, and Try it out works', async () => {
  const { page, requests, refused, problems } = await open(`${ml.url}/docs`);
  await page.waitForSelector('.opblock-summary');
  const operations = await page.locator('.opblock-summary-path').allTextContents();
  for (const path of ['/', '/docs', '/health', '/predict', '/rank', '/metrics', '/openapi.json']) {
    assert.ok(operations.map((t) => t.replace(/\u200b/g, '')).includes(path), `${path} in ${operations}`);
  }
  assert.match(await page.locator('.info .title').textContent(), /LegalAid Connect match service/);

  // /rank opened: the request example is the housing case (an income of 28,500), not a range's end.
  await page.click('#operations-scoring-rank .opblock-summary');
  const example = await page.locator('#operations-scoring-rank .opblock-body .body-param__example, #operations-scoring-rank .opblock-body .highlight-code').first().textContent();
  assert.match(example, /"client_income": 28500/);
  assert.doesNotMatch(example, /10000000|20000/);
  await screenshot(page, 'service-docs-rank.png');

  // Try it out on /health: the page calls the service that served it (its own origin).
  await page.click('#operations-service-health .opblock-summary');
  await page.click('#operations-service-health .try-out__btn');
  await page.click('#operations-service-health .execute');
  const status = page.locator('#operations-service-health .live-responses-table tbody .response-col_status').first();
  await status.waitFor();
  assert.equal((await status.textContent()).trim(), '200');
  assert.match(await page.locator('#operations-service-health .live-responses-table .microlight').first().textContent(), /"status": "ok"/);

  assert.deepEqual(refused, [], 'the page asked another host for something');
  assert.ok(requests.every((u) => u.startsWith(`${ml.url}/`) || u.startsWith('data:')), requests.join('\n'));
  assert.ok(requests.includes(`${ml.url}/health`), `Try it out called ${requests.join(', ')}`);
  assert.deepEqual(problems, [], 'no script error and no Content-Security-Policy violation');
  await page.close();
});

test('GET / in a browser is a page linking /docs, /openapi.json, /health and /metrics', async () => {
  const { page, refused, problems } = await open(`${ml.url}/`);
  const links = await page.locator('a').evaluateAll((els) => els.map((a) => a.getAttribute('href')));
  for (const href of ['/docs', '/openapi.json', '/health', '/metrics']) assert.ok(links.includes(href), `${href} in ${links}`);
  await page.click('a[href="/docs"]');
  await page.waitForSelector('.opblock-summary');
  await screenshot(page, 'service-docs.png');
  assert.deepEqual(refused, []);
  assert.deepEqual(problems, []);
  await page.close();
});
