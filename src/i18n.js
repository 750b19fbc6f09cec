// Languages of the page: choosing one, and the words and numbers of each. Pure functions, no DOM,
// so the tests can import this module in Node as well.
//
// The page speaks the languages of the data contract's client_language vocabulary; each has one
// file i18n/<code>.json of flat "key": "text" pairs, where {name} marks a value filled in here.

/** Languages written right to left, among those the page may speak. */
export const RTL_LANGUAGES = Object.freeze(['ar']);

/**
 * The page's language: `requested` (say, ?lang=) if offered, else the first of the browser's
 * preferred languages (navigator.languages: 'es-MX' counts as 'es') that is offered, else English
 * (or the first offered).
 */
export function pickLanguage(offered, preferred = [], requested = null) {
  const norm = (tag) => String(tag || '').trim().toLowerCase().split(/[-_]/)[0];
  if (requested && offered.includes(norm(requested))) return norm(requested);
  for (const tag of preferred) {
    const code = norm(tag);
    if (offered.includes(code)) return code;
  }
  return offered.includes('en') ? 'en' : offered[0];
}

export const directionOf = (lang) => (RTL_LANGUAGES.includes(lang) ? 'rtl' : 'ltr');

/** Replace each {name} in text by params[name] (left as it is when no such param). */
export function interpolate(text, params = {}) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (Object.hasOwn(params, name) ? String(params[name]) : whole));
}

/**
 * A text cut at the placeholders named in `nodeNames` (which the caller fills with elements, say a
 * link), the other {name}s filled in from params: [string | { name }, ...].
 */
export function segmentsOf(text, params = {}, nodeNames = []) {
  const parts = [];
  let last = 0;
  for (const m of text.matchAll(/\{(\w+)\}/g)) {
    if (!nodeNames.includes(m[1])) continue;
    if (m.index > last) parts.push(interpolate(text.slice(last, m.index), params));
    parts.push({ name: m[1] });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(interpolate(text.slice(last), params));
  return parts;
}

/** The {name} placeholders of a text, sorted: the same in every language for one key. */
export function placeholdersOf(text) {
  return [...new Set([...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))].sort();
}

/**
 * t(key, params) for one language's dictionary, plus number formats for its locale. Digits are
 * Western (0-9) in every language, as in the form's number inputs and the phone numbers.
 * A key missing from the dictionary shows as the key itself (the tests make sure none is missing).
 */
export function createTranslator(lang, dict) {
  const locale = `${lang}-u-nu-latn`;
  const money = new Intl.NumberFormat(locale, { style: 'currency', currency: 'USD', maximumFractionDigits: 0 });
  const percent = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 0 });
  const decimal1 = new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const integer = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  const list = new Intl.ListFormat(locale, { style: 'long', type: 'conjunction' });
  const days = new Intl.NumberFormat(locale, { style: 'unit', unit: 'day', unitDisplay: 'long' });
  const years = new Intl.NumberFormat(locale, { style: 'unit', unit: 'year', unitDisplay: 'long' });
  const t = (key, params) => (Object.hasOwn(dict, key) ? interpolate(dict[key], params) : key);
  return {
    lang,
    dir: directionOf(lang),
    t,
    has: (key) => Object.hasOwn(dict, key),
    /** t(key) cut for elements at nodeNames' placeholders (see segmentsOf). */
    segments: (key, params, nodeNames) => (Object.hasOwn(dict, key) ? segmentsOf(dict[key], params, nodeNames) : [key]),
    /** The label of a vocabulary value (vocab.<field>.<value>), else the value itself. */
    label: (field, value) => (Object.hasOwn(dict, `vocab.${field}.${value}`) ? dict[`vocab.${field}.${value}`] : String(value)),
    money: (x) => money.format(x),
    percent: (x) => percent.format(x),
    decimal1: (x) => decimal1.format(x),
    integer: (x) => integer.format(x),
    list: (xs) => list.format(xs),
    /** A retention period: '90 days'; a whole number of years is said too: '730 days (2 years)'. */
    duration: (n) => (n >= 365 && n % 365 === 0
      ? t('privacy.duration_years', { days: days.format(n), years: years.format(n / 365) })
      : days.format(n)),
  };
}

/** A language's name in that language (for the language switch), e.g. 'es' -> 'español'. */
export function nativeName(code) {
  try {
    const name = new Intl.DisplayNames([code], { type: 'language' }).of(code);
    return name ? name.charAt(0).toLocaleUpperCase(code) + name.slice(1) : code;
  } catch {
    return code;
  }
}

/**
 * One reason (an entry of a ranked lawyer's `reasons`, computed by the backend from the features
 * the model saw) in plain words: { effect, text }. Unknown factors give null (not shown).
 */
export function reasonText(reason, tr) {
  const { t, label } = tr;
  switch (reason.factor) {
    case 'specialization':
      return t(`reason.specialization.${reason.effect === 'plus' ? 'plus' : 'minus'}`, {
        case_type: label('case_type', reason.case_type), specialization: label('case_type', reason.specialization),
      });
    case 'language':
      return t(`reason.language.${reason.effect === 'plus' ? 'plus' : 'minus'}`, {
        language: label('client_language', reason.language), client_language: label('client_language', reason.client_language),
      });
    case 'price': {
      if (!(reason.hourly_rate > 0)) return t('reason.price.free');
      const amount = tr.money(reason.hourly_rate);
      if (typeof reason.income_share_per_hour !== 'number') return t('reason.price.no_income', { amount });
      if (reason.income_share_per_hour < 0.01) return t('reason.price.share_small', { amount });
      return t('reason.price.share', { amount, percent: tr.percent(reason.income_share_per_hour) });
    }
    case 'distance':
      return t(`reason.distance.${effectOf(reason)}`, { km: tr.decimal1(reason.distance_km) });
    case 'caseload':
      return t(`reason.caseload.${effectOf(reason)}`, { count: tr.integer(reason.active_cases) });
    case 'record':
      return t('reason.record', { rating: tr.decimal1(reason.rating), years: tr.integer(reason.experience_years) });
    default:
      return null;
  }
}

const effectOf = (reason) => (['plus', 'minus', 'neutral'].includes(reason.effect) ? reason.effect : 'neutral');
export { effectOf };
