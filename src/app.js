// LegalAid Connect web page: the case form and the ranked lawyers, in the client's language.
// Plain ES modules, no build step, no third-party code. Every piece of user- or database-supplied
// text is put on the page with textContent (or as an attribute value), never parsed as HTML.
//
// Start-up: GET /api/contract (the vocabularies and ranges the form offers), privacy.json (the
// retention periods and the contact the privacy statement quotes) and GET /api/helpline (the number
// the page gives when our service does not answer, fetched now because then it cannot be), then the
// language's words from i18n/<lang>.json; then <html data-ready="true">. The page keeps what it
// shows in `state`, so switching language re-renders everything, results and errors included.
//
// The results (POST /api/match): lawyers who handle the case type and speak the client's language
// first, then the others in a group of their own; what a percentage means and the next step are said
// once, above the list. With `ranked: false` (matching unavailable) the list comes nearest first,
// without percentages, with the help line.

import { pickLanguage, directionOf, createTranslator, nativeName, reasonText, effectOf } from './i18n.js';

const API_MATCH = '/api/match';
const API_CONTRACT = '/api/contract';
const API_HELPLINE = '/api/helpline';
// Beside index.html: { contact, retention: { <store>_days: n } }. Its retention is a copy of
// mlops/params.yaml's (what `scripts/privacy.py expire` enforces); tests/test_privacy_statement.py
// keeps the two equal. The contact is where clients send a search's reference to have it erased.
const PRIVACY_SETTINGS = './privacy.json';
const REQUEST_TIMEOUT_MS = 15000;
const FIELD_NAMES = ['case_type', 'urgency', 'case_complexity', 'client_language', 'client_region', 'client_income'];
// What a match percentage means, in three bands, each with its own colour and word (band.<name>):
// at or above `from` (a probability). Said once above the list; below 50% is never green.
const BANDS = Object.freeze([
  Object.freeze({ name: 'good', from: 0.7 }),
  Object.freeze({ name: 'fair', from: 0.5 }),
  Object.freeze({ name: 'weak', from: 0 }),
]);
// Banded as shown: by the whole percentage (0.695 shows as 70%, so it is a good match).
const bandOf = (p) => BANDS.find((b) => Math.round(p * 100) >= Math.round(b.from * 100)) || BANDS[BANDS.length - 1];

const $ = (id) => document.getElementById(id);
const form = $('case-form');
const submitButton = $('submit');
const statusEl = $('status');
const errorBox = $('error');
const errorMessage = $('error-message');
const resultsEl = $('results');
const resultsTitle = $('results-title');
const languageSelect = $('ui-language');

const state = {
  contract: null,
  privacy: null,     // privacy.json
  languages: [],     // the page's languages: the contract's client_language vocabulary
  tr: null,          // translator of the current language
  dicts: new Map(),  // language -> its dictionary, once loaded
  status: null,      // { key, params } of the status line
  fieldErrors: [],   // [[field, key], ...] shown next to the fields
  error: null,       // { key, params } of the error box
  payload: null,     // the last /api/match answer shown
  helpline: null,    // { phone } from /api/helpline (or the last answer); null: not known
  languageChosen: false, // the client picked "language you prefer"; until then it follows the page's
  loading: false,
};

const t = (key, params) => state.tr.t(key, params);

// ---------------------------------------------------------------- language

async function loadDictionary(lang) {
  if (!state.dicts.has(lang)) {
    const res = await fetch(`i18n/${lang}.json`, { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`i18n/${lang}.json: HTTP ${res.status}`);
    state.dicts.set(lang, await res.json());
  }
  return state.dicts.get(lang);
}

async function setLanguage(lang) {
  const dict = await loadDictionary(lang);
  state.tr = createTranslator(lang, dict);
  document.documentElement.lang = lang;
  document.documentElement.dir = directionOf(lang);
  languageSelect.value = lang;
  render();
  // "Language you prefer" follows the page's language until the client chooses one.
  if (!state.languageChosen) $('client_language').value = lang;
}

function option(value, text) {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text;
  return o;
}

/** The choices of the form, from the contract; their labels from the current language. */
function renderChoices() {
  const { label } = state.tr;
  const vocab = (field) => state.contract.fields[field].vocab;
  const fillSelect = (select, values, text) => {
    const chosen = select.value;
    const placeholder = select.options[0];
    placeholder.textContent = t(placeholder.dataset.i18n);
    select.replaceChildren(placeholder, ...values.map((v) => option(String(v), text(v))));
    select.value = chosen;
  };
  fillSelect($('case_type'), vocab('case_type'), (v) => {
    const examples = `case_type_examples.${v}`;
    return state.tr.has(examples) ? `${label('case_type', v)} (${t(examples)})` : label('case_type', v);
  });
  fillSelect($('client_language'), vocab('client_language'), (code) => {
    const own = nativeName(code);
    const here = label('client_language', code);
    return own.toLocaleLowerCase() === here.toLocaleLowerCase() ? own : `${own} (${here})`;
  });
  fillSelect($('client_region'), vocab('client_region'), (v) => label('client_region', v));

  const box = $('urgency-choices');
  const checked = form.querySelector('input[name="urgency"]:checked')?.value;
  box.replaceChildren(...vocab('urgency').map((v) => {
    const lab = document.createElement('label');
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'urgency';
    input.value = v;
    input.checked = v === checked;
    lab.append(input, document.createTextNode(` ${label('urgency', v)}`));
    return lab;
  }));
}

// ---------------------------------------------------------------- privacy

// Contact values become links only when they are well-formed; shown left to right in every language.
const PHONE_RE = /^[0-9 +().-]{7,32}$/;
// No ? & % either: in a mailto: link they would add headers (cc, body) to the message.
const EMAIL_RE = /^[^\s@<>"'?&%]+@[^\s@<>"'?&%]+\.[^\s@<>"'?&%]+$/;
const MATCH_ID_RE = /^[0-9a-f]{32}$/;

/** The privacy contact as an element: a mailto: link (with `subject`), an https link, or text. */
function privacyContact(subject) {
  const contact = String(state.privacy.contact);
  if (EMAIL_RE.test(contact)) {
    const query = subject ? `?subject=${encodeURIComponent(subject)}` : '';
    return link(`mailto:${contact}${query}`, contact, 'privacy-contact');
  }
  if (safeHttpsUrl(contact)) return link(contact, contact, 'privacy-contact');
  const span = el('span', 'privacy-contact', contact);
  span.setAttribute('dir', 'auto');
  return span;
}

/** The values every text of the page may quote: the retention periods, in words of the language. */
function pageParams() {
  return Object.fromEntries(Object.entries(state.privacy.retention).map(([k, days]) => [k, state.tr.duration(days)]));
}

/** Put t(key) into node as text, with the privacy contact as a link where the text says {contact}. */
function fillText(node, key, params = pageParams(), subject = undefined) {
  node.replaceChildren(...state.tr.segments(key, params, ['contact'])
    .map((part) => (typeof part === 'string' ? part : privacyContact(subject))));
}

/** The search's reference (its match_id) and how to have the search erased, after the results. */
function renderReference() {
  const id = state.payload && typeof state.payload.match_id === 'string' && MATCH_ID_RE.test(state.payload.match_id)
    ? state.payload.match_id : null;
  $('reference').hidden = !id;
  $('match-id').textContent = id || '';
  if (id) fillText($('reference-erase'), 'reference.erase', pageParams(), t('reference.email_subject', { reference: id }));
  else $('reference-erase').replaceChildren();
}

/** Everything on the page, in the current language, from `state`. */
function render() {
  document.title = t('meta.title');
  document.querySelector('meta[name="description"]').setAttribute('content', t('meta.description'));
  const params = pageParams();
  for (const node of document.querySelectorAll('[data-i18n]')) {
    if (node.tagName !== 'OPTION') fillText(node, node.dataset.i18n, params);
  }
  renderChoices();
  submitButton.textContent = t(state.loading ? 'form.submitting' : 'form.submit');
  renderFieldErrors();
  renderStatus();
  renderError();
  renderResults();
}

// ---------------------------------------------------------------- validation

// Fields answered with radio buttons: their group is the fieldset, the focus goes to the first button.
const RADIO_FIELDS = ['urgency', 'case_complexity'];

/** The control that receives focus for a field's error. */
function controlOf(field) {
  if (RADIO_FIELDS.includes(field)) return form.querySelector(`input[name="${field}"]`);
  return $(field);
}

const groupOf = (field) => (RADIO_FIELDS.includes(field) ? $(field) : null);

const errorElementOf = (field) => $(`${field}-error`);

const hasErrorElement = (field) => Boolean(errorElementOf(field));

function renderFieldErrors() {
  for (const field of FIELD_NAMES) {
    const el = errorElementOf(field);
    el.textContent = '';
    el.hidden = true;
  }
  form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
  form.querySelectorAll('.invalid').forEach((el) => el.classList.remove('invalid'));
  for (const [field, key] of state.fieldErrors) {
    const el = errorElementOf(field);
    el.textContent = t(key);
    el.hidden = false;
    groupOf(field)?.classList.add('invalid');
    const control = controlOf(field);
    if (control && !RADIO_FIELDS.includes(field)) control.setAttribute('aria-invalid', 'true');
  }
}

function setFieldErrors(errors) {
  state.fieldErrors = errors;
  renderFieldErrors();
}

/** Focus the first field in error and bring it, with its label and message, into view. */
function focusField(field) {
  const control = controlOf(field);
  if (!control) return;
  control.focus({ preventScroll: true });
  (control.closest('.field') || control).scrollIntoView({ block: 'center' });
}

function readNumber(input) {
  const raw = input.value.trim();
  if (raw === '') return { empty: true };
  const value = Number(raw);
  return { empty: false, value, valid: input.validity.valid && Number.isFinite(value) };
}

/** Read and check the form; returns { body } or { errors: [[field, key], ...] }. */
function readForm() {
  const errors = [];
  const body = {};
  const data = new FormData(form);

  for (const field of ['case_type', 'urgency', 'client_language', 'client_region']) {
    const value = data.get(field);
    if (!value) errors.push([field, `error.${field}.required`]); else body[field] = value;
  }

  // The answer to the plain question is the contract's 1-5 (the radio buttons' values).
  const complexity = data.get('case_complexity');
  if (!complexity) errors.push(['case_complexity', 'error.case_complexity.required']);
  else body.case_complexity = Number(complexity);

  const income = readNumber($('client_income'));
  if (income.empty) errors.push(['client_income', 'error.client_income.required']);
  else if (!income.valid || income.value < 0) errors.push(['client_income', 'error.client_income.invalid']);
  else body.client_income = income.value;

  // In the order the fields appear on the page, so the first one gets the focus.
  errors.sort((a, b) => FIELD_NAMES.indexOf(a[0]) - FIELD_NAMES.indexOf(b[0]));
  return errors.length ? { errors } : { body };
}

// ---------------------------------------------------------------- states

function setStatus(key, params, kind = '') {
  state.status = key ? { key, params, kind } : null;
  renderStatus();
}

function renderStatus() {
  const s = state.status;
  statusEl.hidden = !s;
  statusEl.textContent = s ? t(s.key, s.params) : '';
  statusEl.classList.toggle('loading', Boolean(s && s.kind === 'loading'));
  statusEl.classList.toggle('empty', Boolean(s && s.kind === 'empty'));
}

function setLoading(loading) {
  state.loading = loading;
  submitButton.disabled = loading;
  submitButton.textContent = t(loading ? 'form.submitting' : 'form.submit');
  $('results-panel').setAttribute('aria-busy', String(loading));
  if (loading) {
    // Hiding the error box would drop focus to <body> if it held it (the Retry button): keep it
    // on the results heading, where the outcome will appear.
    const hadFocus = errorBox.contains(document.activeElement);
    state.error = null;
    renderError();
    if (hadFocus) resultsTitle.focus();
    setStatus('status.loading', undefined, 'loading');
  } else if (state.status && state.status.kind === 'loading') {
    setStatus(null);
  }
}

function renderError() {
  errorBox.hidden = !state.error;
  errorMessage.textContent = state.error ? t(state.error.key, state.error.params) : '';
  fillHelpline($('error-helpline'), 'helpline.call', Boolean(state.error));
}

/** The error box, brought into view and focused (it has tabindex=-1 and role=alert). */
function showError(key, params) {
  state.payload = null;
  state.error = { key, params };
  setStatus(null);
  renderResults();
  renderError();
  errorBox.focus({ preventScroll: true });
  errorBox.scrollIntoView({ block: 'center' });
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function detail(dl, term, value) {
  const pair = el('div', 'detail');
  pair.append(el('dt', '', term), el('dd', '', value));
  dl.append(pair);
}

function safeHttpsUrl(text) {
  try {
    const url = new URL(text);
    return url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

function link(href, text, className) {
  const a = el('a', className, text);
  a.setAttribute('href', href);
  a.setAttribute('dir', 'ltr');
  return a;
}

/** A tel: link for a phone number of the directory or the help line (digits and + only in the href). */
const phoneLink = (phone, className) => link(`tel:${phone.replace(/[^0-9+]/g, '')}`, phone, className);

/** The help line as known now: the last answer's, else the one fetched at start-up. */
function helpline() {
  const h = (state.payload && state.payload.helpline) || state.helpline;
  return h && typeof h.phone === 'string' && PHONE_RE.test(h.phone) ? h : null;
}

/** Fill node with t(key), its {phone} a tel: link to the help line; hidden when not shown or unknown. */
function fillHelpline(node, key, show = true) {
  const h = helpline();
  node.hidden = !(show && h);
  if (node.hidden) { node.replaceChildren(); return; }
  node.replaceChildren(...state.tr.segments(key, {}, ['phone'])
    .map((part) => (typeof part === 'string' ? part : phoneLink(h.phone, 'helpline-phone'))));
}

function contactSection(lawyer) {
  const c = lawyer.contact || {};
  const section = el('section', 'contact');
  section.append(el('h5', '', t('card.contact.title')));
  const dl = el('dl', 'contact-list');
  const row = (term, value) => {
    const pair = el('div', 'detail');
    const dd = el('dd');
    dd.append(value);
    pair.append(el('dt', '', term), dd);
    dl.append(pair);
  };
  if (typeof c.phone === 'string' && PHONE_RE.test(c.phone)) {
    row(t('card.contact.phone'), phoneLink(c.phone, 'contact-phone'));
  }
  if (typeof c.email === 'string' && EMAIL_RE.test(c.email)) {
    row(t('card.contact.email'), link(`mailto:${c.email}`, c.email, 'contact-email'));
  }
  if (typeof c.office_address === 'string' && c.office_address) {
    const address = el('span', 'contact-address', c.office_address);
    address.setAttribute('dir', 'auto');
    row(t('card.contact.office'), address);
  }
  const url = typeof c.intake_url === 'string' ? safeHttpsUrl(c.intake_url) : null;
  if (url) {
    const a = link(url, t('card.contact.online_link'), 'contact-online');
    a.removeAttribute('dir');
    row(t('card.contact.online'), a);
  }
  section.append(dl.children.length ? dl : el('p', 'hint', t('card.contact.none')));
  return section;
}

const EFFECT_MARK = { plus: '✓', minus: '✗', neutral: '•' };

function reasonsSection(lawyer) {
  const section = el('section', 'reasons');
  section.append(el('h5', '', t(isRanked() ? 'card.reasons.title' : 'card.reasons.title_unranked')));
  const ul = el('ul', 'reason-list');
  for (const reason of lawyer.reasons) {
    const text = reasonText(reason, state.tr);
    if (!text) continue;
    const effect = effectOf(reason);
    const li = el('li', `reason ${effect}`);
    li.dataset.factor = String(reason.factor);
    const mark = el('span', 'mark', EFFECT_MARK[effect]);
    mark.setAttribute('aria-hidden', 'true');
    li.append(mark, el('span', 'visually-hidden', `${t(`effect.${effect}`)} `), el('span', 'reason-text', text));
    ul.append(li);
  }
  section.append(ul);
  return section;
}

/** The answer shown is a ranking by the match service (else: matching unavailable, a plain order). */
const isRanked = () => Boolean(state.payload) && state.payload.ranked !== false;
const hasProbability = (lawyer) => typeof lawyer.match_probability === 'number' && Number.isFinite(lawyer.match_probability);

function lawyerCard(lawyer, rank) {
  const tr = state.tr;
  const li = el('li', 'lawyer');
  li.dataset.lawyerId = String(lawyer.id);
  li.dataset.eligible = String(lawyer.eligible === true);

  const head = el('div', 'lawyer-head');
  const name = el('h4', 'lawyer-name');
  const nameText = el('span', 'name', lawyer.name);
  nameText.setAttribute('dir', 'auto');
  name.append(el('span', 'rank', `${tr.integer(rank)}.`), document.createTextNode(' '), nameText);
  head.append(name);
  const parts = [head];

  if (isRanked() && hasProbability(lawyer)) {
    // The percentage with its band's word and colour; what the bands mean is said once, above.
    const percent = Math.round(lawyer.match_probability * 100);
    const band = bandOf(lawyer.match_probability);
    li.dataset.probability = String(lawyer.match_probability);
    li.dataset.band = band.name;
    li.classList.add(`band-${band.name}`);
    const score = el('p', 'match');
    score.append(el('span', 'match-percent', tr.percent(percent / 100)), document.createTextNode(' '),
      el('span', 'match-band', t(`band.${band.name}`)));
    head.append(score);
    const bar = el('div', 'bar');
    bar.setAttribute('aria-hidden', 'true');
    const fill = el('div', 'bar-fill');
    fill.style.width = `${Math.max(0, Math.min(100, percent))}%`;
    bar.append(fill);
    parts.push(bar);
  }

  // The facts to scan at a glance; distance, caseload, rating and experience are in the reasons
  // below, in sentences that say whether they count for or against, so they are not repeated here.
  const dl = el('dl', 'lawyer-details');
  detail(dl, t('card.specialization'), tr.label('case_type', lawyer.specialization));
  detail(dl, t('card.languages'), tr.list((lawyer.languages || []).map((l) => tr.label('client_language', l))));
  detail(dl, t('card.rate'), lawyer.hourly_rate === 0 ? t('card.rate_free') : t('card.rate_hourly', { amount: tr.money(lawyer.hourly_rate) }));
  detail(dl, t('card.region'), tr.label('client_region', lawyer.region));
  const noReasons = !(Array.isArray(lawyer.reasons) && lawyer.reasons.length);
  if (noReasons && typeof lawyer.distance_km === 'number') detail(dl, t('card.distance'), t('card.distance_value', { km: tr.decimal1(lawyer.distance_km) }));

  const more = el('div', 'lawyer-more');
  more.append(contactSection(lawyer));
  if (Array.isArray(lawyer.reasons) && lawyer.reasons.length) more.append(reasonsSection(lawyer));

  li.append(...parts, dl, more);
  return li;
}

/** The words of the case the group headings quote: its type and the client's language, as labels. */
function caseWords() {
  const c = state.payload.case || {};
  return {
    case_type: state.tr.label('case_type', c.case_type),
    language: state.tr.label('client_language', c.client_language),
  };
}

/** One group of cards: a heading, an optional note, and the cards numbered on from `start`. */
function group(kind, lawyers, start, noteKey) {
  const section = el('section', `group ${kind}`);
  section.dataset.group = kind;
  const heading = el('h3', 'group-title', t(`group.${kind}.title`, caseWords()));
  heading.id = `group-${kind}`;
  section.setAttribute('aria-labelledby', heading.id);
  section.append(heading);
  if (noteKey) section.append(el('p', 'hint group-note', t(noteKey, caseWords())));
  if (lawyers.length) {
    const ol = el('ol', 'results');
    if (start > 1) ol.setAttribute('start', String(start));
    ol.append(...lawyers.map((l, i) => lawyerCard(l, start + i)));
    section.append(ol);
  }
  return section;
}

/** What the percentages mean (three bands, their colours said in words), once for the whole list. */
function renderMeaning(lawyers) {
  const tr = state.tr;
  $('bands').replaceChildren(...BANDS.map((b, i) => {
    const li = el('li', `band band-${b.name}`);
    li.dataset.band = b.name;
    const swatch = el('span', 'swatch');
    swatch.setAttribute('aria-hidden', 'true');
    const upper = i > 0 ? BANDS[i - 1].from : null;
    const range = b.from === 0
      ? t('band.below', { percent: tr.percent(upper) })
      : upper === null
        ? t('band.from', { percent: tr.percent(b.from) })
        : t('band.between', { from: tr.percent(b.from), to: tr.percent(upper - 0.01) });
    li.append(swatch, el('span', 'band-name', t(`band.${b.name}`)), document.createTextNode(' '), el('span', 'band-range', range));
    return li;
  }));
  const best = lawyers.filter(hasProbability).reduce((m, l) => Math.max(m, l.match_probability), -1);
  const weak = best >= 0 && bandOf(best).name === 'weak';
  fillHelpline($('weak-note'), 'results.weak', weak);
}

/** The next step for this case, once: what to have ready, urgency, and cost. */
function nextStepText() {
  const c = state.payload.case || {};
  const steps = [t(`next_step.${c.case_type}`)];
  if (c.urgency === 'high') steps.push(t('next_step.urgent'));
  steps.push(t('next_step.cost'));
  return steps.join(' ');
}

function renderResults() {
  const lawyers = state.payload && Array.isArray(state.payload.lawyers) ? state.payload.lawyers : [];
  const shown = lawyers.length > 0;
  const ranked = isRanked();
  $('results-intro').hidden = !shown;
  $('meaning').hidden = !shown || !ranked;
  $('unranked').hidden = !state.payload || ranked;
  if (state.payload && !ranked) {
    $('unranked-text').textContent = t('unranked.text', caseWords());
    fillHelpline($('unranked-helpline'), 'helpline.urgent');
  }
  if (shown) {
    if (ranked) renderMeaning(lawyers);
    $('next-step').textContent = nextStepText();
    const eligible = lawyers.filter((l) => l.eligible === true);
    const others = lawyers.filter((l) => l.eligible !== true);
    const groups = [group('eligible', eligible, 1, eligible.length ? null : 'group.eligible.none')];
    if (others.length) groups.push(group('fallback', others, eligible.length + 1, 'group.fallback.note'));
    resultsEl.replaceChildren(...groups);
  } else {
    resultsEl.replaceChildren();
  }
  resultsEl.hidden = !shown;
  renderReference();
}

function showResults(payload) {
  state.payload = payload;
  state.error = null;
  renderError();
  renderResults();
  const n = state.payload.lawyers ? state.payload.lawyers.length : 0;
  if (n === 0) setStatus('status.none', undefined, 'empty');
  else setStatus(isRanked() ? 'status.found' : 'status.found_unranked', { count: n });
  resultsTitle.focus();
}

// ---------------------------------------------------------------- submit

let inFlight = null;

async function findLawyers() {
  const { body, errors } = readForm();
  setFieldErrors(errors || []);
  if (errors) {
    focusField(errors[0][0]);
    setStatus('status.fix', { count: errors.length });
    return;
  }
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  setLoading(true);
  try {
    const res = await fetch(API_MATCH, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    let payload = null;
    try { payload = await res.json(); } catch { payload = null; }
    if (controller !== inFlight) return; // superseded by a newer search
    if (res.ok && payload && Array.isArray(payload.lawyers)) {
      showResults(payload);
    } else if (res.status === 400 && payload && typeof payload.field === 'string' && FIELD_NAMES.includes(payload.field) && hasErrorElement(payload.field)) {
      // The server's words are English; the page says it in the client's language, at the field.
      const key = `error.${payload.field}.invalid`;
      setFieldErrors([[payload.field, state.tr.has(key) ? key : 'error.field.invalid']]);
      setStatus('status.fix', { count: 1 });
      focusField(payload.field);
    } else if (res.status === 503) {
      showError('error.unavailable');
    } else if (res.status >= 500 && !payload) {
      // Nothing of ours answered (a proxy's 502/504 page, say): our service, not the client's line.
      showError('error.network');
    } else {
      showError('error.generic', { detail: `HTTP ${res.status}` });
    }
  } catch (err) {
    if (controller !== inFlight) return; // superseded by a newer search
    // A fetch to our own backend that fails or never ends is our service not answering: said as
    // such, with the help line, never as a problem with the client's connection.
    showError(err.name === 'AbortError' ? 'error.timeout' : 'error.network');
  } finally {
    clearTimeout(timer);
    if (controller === inFlight) { inFlight = null; setLoading(false); }
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  findLawyers();
});
$('retry').addEventListener('click', () => findLawyers());

// Once the client picks a language for the case, the page's language no longer changes it.
$('client_language').addEventListener('change', () => { state.languageChosen = true; });

languageSelect.addEventListener('change', async () => {
  const lang = languageSelect.value;
  // Remember the choice in the address, so a reload or a shared link keeps it.
  const url = new URL(window.location.href);
  url.searchParams.set('lang', lang);
  window.history.replaceState(null, '', url);
  try {
    await setLanguage(lang);
  } catch {
    languageSelect.value = state.tr.lang;
  }
});

// ---------------------------------------------------------------- start

async function getJson(url) {
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

async function start() {
  // The help line is optional here: without it the page still works, it just cannot give the number.
  const helplineLoaded = getJson(API_HELPLINE).catch(() => null);
  [state.contract, state.privacy, state.helpline] = await Promise.all([getJson(API_CONTRACT), getJson(PRIVACY_SETTINGS), helplineLoaded]);
  state.languages = [...state.contract.fields.client_language.vocab];
  languageSelect.replaceChildren(...state.languages.map((code) => {
    const o = option(code, nativeName(code));
    o.lang = code;
    return o;
  }));
  const requested = new URL(window.location.href).searchParams.get('lang');
  const lang = pickLanguage(state.languages, navigator.languages || [navigator.language], requested);
  state.status = { key: 'status.initial' };
  await setLanguage(lang);
}

start().then(() => {
  document.documentElement.dataset.ready = 'true';
}).catch(() => {
  // Without the contract or the words there is no form to show: say so (in English, the one
  // language the page can be sure of here) and leave the form unusable.
  submitButton.disabled = true;
  errorMessage.textContent = 'This page could not load everything it needs. Please reload it.';
  errorBox.hidden = false;
  $('retry').hidden = true;
  document.documentElement.dataset.ready = 'failed';
});
