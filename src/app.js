// LegalAid Connect web page: the case form and the ranked lawyers.
// Plain ES module, no build step, no third-party code. Every piece of user- or database-supplied
// text is put on the page with textContent, never parsed as HTML markup.

const API_MATCH = '/api/match';
const REQUEST_TIMEOUT_MS = 15000;

const LABELS = {
  case_type: {
    family: 'Family', criminal: 'Criminal', immigration: 'Immigration', housing: 'Housing',
    employment: 'Employment', consumer: 'Consumer', civil_rights: 'Civil rights',
  },
  language: { en: 'English', es: 'Spanish', zh: 'Chinese', ar: 'Arabic', fr: 'French', vi: 'Vietnamese' },
  region: { north: 'North', south: 'South', east: 'East', west: 'West', central: 'Central' },
};
const FIELD_NAMES = ['case_type', 'urgency', 'case_complexity', 'client_language', 'client_region', 'location', 'client_income'];

const $ = (id) => document.getElementById(id);
const form = $('case-form');
const submitButton = $('submit');
const statusEl = $('status');
const errorBox = $('error');
const errorMessage = $('error-message');
const resultsEl = $('results');
const resultsNote = $('results-note');
const resultsTitle = $('results-title');
const modelVersionEl = $('model-version');

const label = (kind, value) => LABELS[kind][value] ?? String(value);
const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 0 });

// ---------------------------------------------------------------- validation

/** The control that receives focus for a field's error. */
function controlOf(field) {
  if (field === 'urgency') return form.querySelector('input[name="urgency"]');
  if (field === 'location' || field === 'lat') return $('lat');
  if (field === 'lon') return $('lon');
  return $(field);
}

function errorElementOf(field) {
  if (field === 'lat' || field === 'lon') return $('location-error');
  return $(`${field}-error`);
}

function setFieldError(field, message) {
  const el = errorElementOf(field);
  if (!el) return false;
  el.textContent = message;
  el.hidden = false;
  const group = field === 'urgency' ? $('urgency') : field === 'location' || field === 'lat' || field === 'lon' ? $('location') : null;
  if (group) group.classList.add('invalid');
  const control = controlOf(field);
  if (control && field !== 'urgency') control.setAttribute('aria-invalid', 'true');
  return true;
}

function clearErrors() {
  for (const field of FIELD_NAMES) {
    const el = errorElementOf(field);
    el.textContent = '';
    el.hidden = true;
  }
  form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
  form.querySelectorAll('.invalid').forEach((el) => el.classList.remove('invalid'));
}

function readNumber(input) {
  const raw = input.value.trim();
  if (raw === '') return { empty: true };
  const value = Number(raw);
  return { empty: false, value, valid: input.validity.valid && Number.isFinite(value) };
}

/** Read and check the form; returns { body } or { errors: [[field, message], ...] }. */
function readForm() {
  const errors = [];
  const body = {};
  const data = new FormData(form);

  for (const [field, message] of [
    ['case_type', 'Choose the type of case.'],
    ['urgency', 'Choose how urgent your case is.'],
    ['client_language', 'Choose the language you prefer.'],
  ]) {
    const value = data.get(field);
    if (!value) errors.push([field, message]); else body[field] = value;
  }

  const complexity = data.get('case_complexity');
  if (!complexity) errors.push(['case_complexity', 'Choose how complex your case is.']);
  else body.case_complexity = Number(complexity);

  const lat = readNumber($('lat'));
  const lon = readNumber($('lon'));
  if (!lat.empty || !lon.empty) {
    if (lat.empty || lon.empty) errors.push(['location', 'Give both latitude and longitude, or neither.']);
    else if (!lat.valid || lat.value < -90 || lat.value > 90) errors.push(['location', 'Latitude must be a number between -90 and 90.']);
    else if (!lon.valid || lon.value < -180 || lon.value > 180) errors.push(['location', 'Longitude must be a number between -180 and 180.']);
    else body.location = { lat: lat.value, lon: lon.value };
  }

  const region = data.get('client_region');
  if (region) body.client_region = region;
  else if (!body.location) errors.push(['client_region', 'Choose your region, or give your location.']);

  const income = readNumber($('client_income'));
  if (income.empty) errors.push(['client_income', 'Enter your yearly household income (0 if none).']);
  else if (!income.valid || income.value < 0) errors.push(['client_income', 'Income must be a number of dollars, 0 or more.']);
  else body.client_income = income.value;

  return errors.length ? { errors } : { body };
}

// ---------------------------------------------------------------- states

function showStatus(text) {
  statusEl.textContent = text;
  statusEl.hidden = false;
}

function setLoading(loading) {
  submitButton.disabled = loading;
  submitButton.textContent = loading ? 'Finding lawyers…' : 'Find lawyers';
  $('results-panel').setAttribute('aria-busy', String(loading));
  if (loading) {
    errorBox.hidden = true;
    showStatus('Finding the lawyers best suited to your case…');
    statusEl.classList.add('loading');
  } else {
    statusEl.classList.remove('loading');
  }
}

function showError(message) {
  resultsEl.hidden = true;
  resultsNote.hidden = true;
  modelVersionEl.hidden = true;
  statusEl.hidden = true;
  errorMessage.textContent = message;
  errorBox.hidden = false;
  $('retry').focus();
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

function lawyerCard(lawyer, rank) {
  const percent = Math.round(lawyer.match_probability * 100);
  const li = el('li', 'lawyer');
  li.dataset.lawyerId = String(lawyer.id);
  li.dataset.probability = String(lawyer.match_probability);

  const head = el('div', 'lawyer-head');
  const name = el('h3', 'lawyer-name');
  name.append(el('span', 'rank', `${rank}.`), document.createTextNode(' '), el('span', 'name', lawyer.name));
  const score = el('p', 'match');
  score.append(el('span', 'match-percent', `${percent}%`), document.createTextNode(' match'));
  head.append(name, score);

  const bar = el('div', 'bar');
  bar.setAttribute('aria-hidden', 'true');
  const fill = el('div', 'bar-fill');
  fill.style.width = `${Math.max(0, Math.min(100, percent))}%`;
  bar.append(fill);

  const dl = el('dl', 'lawyer-details');
  detail(dl, 'Specialization', label('case_type', lawyer.specialization));
  detail(dl, 'Languages', (lawyer.languages || []).map((l) => label('language', l)).join(', '));
  detail(dl, 'Rate', lawyer.hourly_rate === 0 ? 'Pro bono (free)' : `${money.format(lawyer.hourly_rate)} per hour`);
  detail(dl, 'Experience', `${lawyer.experience_years} ${lawyer.experience_years === 1 ? 'year' : 'years'}`);
  detail(dl, 'Rating', `${Number(lawyer.rating).toFixed(1)} / 5`);
  detail(dl, 'Region', label('region', lawyer.region));
  if (typeof lawyer.distance_km === 'number') detail(dl, 'Distance', `${lawyer.distance_km.toFixed(1)} km`);
  detail(dl, 'Open cases', String(lawyer.active_cases));

  li.append(head, bar, dl);
  if (lawyer.hourly_rate === 0) li.classList.add('pro-bono');
  return li;
}

function showResults(payload) {
  const lawyers = Array.isArray(payload.lawyers) ? payload.lawyers : [];
  resultsEl.replaceChildren(...lawyers.map((l, i) => lawyerCard(l, i + 1)));
  errorBox.hidden = true;
  if (lawyers.length === 0) {
    resultsEl.hidden = true;
    resultsNote.hidden = true;
    modelVersionEl.hidden = true;
    showStatus('No lawyers were found for this case. Try another region or language.');
    statusEl.classList.add('empty');
  } else {
    statusEl.classList.remove('empty');
    resultsEl.hidden = false;
    resultsNote.hidden = false;
    showStatus(`${lawyers.length} ${lawyers.length === 1 ? 'lawyer' : 'lawyers'} found, best match first.`);
    modelVersionEl.textContent = `Model version: ${payload.model_version}`;
    modelVersionEl.hidden = false;
  }
  resultsTitle.focus();
}

// ---------------------------------------------------------------- submit

let inFlight = null;

async function findLawyers() {
  clearErrors();
  const { body, errors } = readForm();
  if (errors) {
    for (const [field, message] of errors) setFieldError(field, message);
    controlOf(errors[0][0])?.focus();
    showStatus(`Please correct ${errors.length === 1 ? 'the highlighted field' : `the ${errors.length} highlighted fields`}.`);
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
    if (res.ok && payload) {
      showResults(payload);
    } else if (res.status === 400 && payload && payload.field && setFieldError(payload.field, payload.error)) {
      statusEl.textContent = 'Please correct the highlighted field.';
      controlOf(payload.field)?.focus();
    } else if (res.status === 503) {
      showError('The matching service is not available right now, so we cannot rank lawyers. Please try again in a minute.');
    } else {
      showError(`Something went wrong (${payload && payload.error ? payload.error : `HTTP ${res.status}`}). Please try again.`);
    }
  } catch (err) {
    if (controller !== inFlight) return; // superseded by a newer search
    showError(err.name === 'AbortError'
      ? 'The search took too long. Please try again.'
      : 'We could not reach LegalAid Connect. Check your connection and try again.');
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

$('use-location').addEventListener('click', () => {
  const errorEl = $('location-error');
  errorEl.hidden = true;
  if (!('geolocation' in navigator)) {
    setFieldError('location', 'Your browser cannot share its location; type it in or choose a region.');
    return;
  }
  const button = $('use-location');
  button.disabled = true;
  button.textContent = 'Locating…';
  navigator.geolocation.getCurrentPosition((pos) => {
    $('lat').value = pos.coords.latitude.toFixed(5);
    $('lon').value = pos.coords.longitude.toFixed(5);
    button.disabled = false;
    button.textContent = 'Use my current location';
  }, () => {
    setFieldError('location', 'Your location could not be found; type it in or choose a region.');
    button.disabled = false;
    button.textContent = 'Use my current location';
  }, { timeout: 10000, maximumAge: 600000 });
});
