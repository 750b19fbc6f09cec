// Shared by the browser tests (not a test file itself): Chromium, the form, axe-core, screenshots.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { backendRequire } from '../backend/helpers.mjs';

export const { chromium } = backendRequire('playwright-core');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
// axe-core from backend/node_modules (a pinned devDependency): no CDN, nothing fetched at run time.
const AXE_SOURCE = fs.readFileSync(backendRequire.resolve('axe-core/axe.min.js'), 'utf8');

export const FORM = { case_type: 'immigration', urgency: 'high', case_complexity: '4', client_language: 'es', client_region: 'central', client_income: '18000' };

export function checkChromium() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
}

/** A full-page screenshot into tests/browser/artifacts/ (git-ignored), and a copy to `also` if given. */
export async function screenshot(page, name, { also } = {}) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  if (also) fs.copyFileSync(file, also);
  console.log(`screenshot: ${file}${also ? ` (and ${also})` : ''}`);
  return file;
}

export async function fillForm(page, values = FORM) {
  await page.selectOption('#case_type', values.case_type);
  await page.check(`input[name="urgency"][value="${values.urgency}"]`);
  await page.check(`input[name="case_complexity"][value="${values.case_complexity}"]`);
  await page.selectOption('#client_language', values.client_language);
  await page.selectOption('#client_region', values.client_region);
  await page.fill('#client_income', values.client_income);
}

/**
 * A page of `context` at url, once the page has its words and choices (<html data-ready>), that
 * records every request it makes and every console error.
 */
export async function openPage(context, url) {
  const page = await context.newPage();
  const requests = [];
  const problems = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('html[data-ready="true"]');
  return { page, requests, problems };
}

/**
 * Run axe-core on the page as it is now; returns { serious, others }: the violations of impact
 * serious or critical, and the rest. axe is evaluated through the DevTools protocol, which the
 * page's Content-Security-Policy does not govern, so the page's own policy stays as served.
 */
export async function runAxe(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    }));
  });
  return {
    serious: violations.filter((v) => v.impact === 'serious' || v.impact === 'critical'),
    others: violations.filter((v) => !(v.impact === 'serious' || v.impact === 'critical')),
  };
}

/** True when the element's box lies within the viewport. */
export function inViewport(page, selector) {
  return page.evaluate((sel) => {
    const r = document.querySelector(sel).getBoundingClientRect();
    return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth;
  }, selector);
}
