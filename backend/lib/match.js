'use strict';
// Turns a client's case and the directory into one /rank request, and the answer into the
// ranked profiles the API returns.

const { haversineKm, REGION_CENTROIDS } = require('./geo');

/** Where distances are measured from: the client's own location, else their region's centroid. */
function originOf(caseFields, location) {
  if (location) return { lat: location.lat, lon: location.lon, source: 'location' };
  const c = REGION_CENTROIDS[caseFields.client_region];
  return { lat: c.lat, lon: c.lon, source: 'region' };
}

/**
 * The lawyers part of the /rank payload, one entry per candidate, plus each one's distance.
 * A lawyer speaking several languages is presented to the model with the client's language when
 * they speak it (that is the language the engagement would use), else with their primary one.
 */
function buildCandidates(caseFields, origin, profiles) {
  const lawyers = new Array(profiles.length);
  const distances = new Map();
  for (let i = 0; i < profiles.length; i++) {
    const p = profiles[i];
    const km = Math.round(haversineKm(origin.lat, origin.lon, p.location.lat, p.location.lon) * 1000) / 1000;
    distances.set(p.id, km);
    lawyers[i] = {
      lawyer_id: p.id,
      lawyer_specialization: p.specialization,
      lawyer_language: p.languages.includes(caseFields.client_language) ? caseFields.client_language : p.languages[0],
      lawyer_region: p.region,
      lawyer_experience_years: p.experience_years,
      lawyer_rating: p.rating,
      lawyer_active_cases: p.active_cases,
      lawyer_hourly_rate: p.hourly_rate,
      distance_km: km,
    };
  }
  return { lawyers, distances };
}

/**
 * Eligible for a case: practises its type and speaks the client's language. The directory has no
 * interpreter field (migrations 001-005: only lawyer_languages), so "offers an interpreter" cannot
 * be known and the language list alone decides; the others are shown as a separate group.
 */
function isEligible(caseFields, profile) {
  return profile.specialization === caseFields.case_type && profile.languages.includes(caseFields.client_language);
}

/** Eligible profiles first, then the others, each group keeping the order it had (a stable partition). */
function eligibleFirst(items, caseFields, profileOf = (x) => x) {
  const yes = [];
  const no = [];
  for (const item of items) (isEligible(caseFields, profileOf(item)) ? yes : no).push(item);
  return yes.concat(no);
}

/**
 * The top `limit` profiles, each with its distance, match probability and whether it is eligible:
 * the eligible ones first, best first by the model, then the others (the fallback group), best
 * first. bench/eligibility_bench.py measured showing the others against leaving them out.
 */
function mergeRanking(ranking, profiles, distances, limit, caseFields) {
  const byId = new Map();
  for (const p of profiles) byId.set(String(p.id), p);
  // The service ranks best first; if an answer is not in that order, sort it (stably) so a
  // mis-ordered answer cannot mislead. The usual, ordered case costs one pass.
  let ordered = ranking;
  for (let i = 1; i < ranking.length; i++) {
    if (ranking[i].match_probability > ranking[i - 1].match_probability) {
      ordered = ranking.map((r, j) => ({ ...r, j }))
        .sort((a, b) => b.match_probability - a.match_probability || a.j - b.j);
      break;
    }
  }
  const scored = ordered.map((r) => ({ p: byId.get(String(r.lawyer_id)), r }));
  return eligibleFirst(scored, caseFields, (x) => x.p).slice(0, limit).map(({ p, r }) => ({
    ...p, distance_km: distances.get(p.id), match_probability: r.match_probability, eligible: isEligible(caseFields, p),
  }));
}

/**
 * Without the match service: the top `limit` profiles in a plain order, no match probability.
 * Eligible ones first; then the others, those who at least practise the case type or speak the
 * client's language before those who do neither; within each, nearest first (ties: by name, then
 * id). The same case and directory always give the same list, and a client can see why.
 */
function plainOrder(profiles, distances, limit, caseFields) {
  const fits = (p) => (p.specialization === caseFields.case_type ? 1 : 0)
    + (p.languages.includes(caseFields.client_language) ? 1 : 0);
  const sorted = [...profiles].sort((a, b) => fits(b) - fits(a) || distances.get(a.id) - distances.get(b.id)
    || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || a.id - b.id);
  return sorted.slice(0, limit)
    .map((p) => ({ ...p, distance_km: distances.get(p.id), eligible: isEligible(caseFields, p) }));
}

// When a fact counts for ('plus') or against ('minus') a lawyer in the reasons shown to a client;
// in between it is 'neutral'. Plain thresholds on the features the model saw, chosen to read
// sensibly; they describe each lawyer's standing, not how the network weighs it.
const REASON_RULES = Object.freeze({
  distance_km: { near: 10, far: 30 },                // <= near: plus; > far: minus
  income_share_per_hour: { low: 0.02, high: 0.05 },  // one hour's fee / one month's income
  active_cases: { light: 10, heavy: 20 },            // <= light: plus; >= heavy: minus
  rating: { good: 4.3, poor: 3.3 },                  // >= good: plus; < poor: minus
});

const band = (value, plusIf, minusIf) => (plusIf(value) ? 'plus' : minusIf(value) ? 'minus' : 'neutral');

/**
 * Why a lawyer stands where they do, in facts a client can check: one entry per factor
 * { factor, effect: 'plus'|'minus'|'neutral', ...values }, computed from the case and the very
 * instance sent to the model (`features`, one entry of buildCandidates().lawyers). The page words them.
 */
function explain(caseFields, features) {
  const R = REASON_RULES;
  const rate = features.lawyer_hourly_rate;
  const income = caseFields.client_income;
  // The fee for one hour against one month's income; null when there is no income to compare.
  const share = rate > 0 && income > 0 ? Math.round((rate / (income / 12)) * 1000) / 1000 : null;
  let priceEffect = 'plus';
  if (rate > 0) priceEffect = share === null ? 'minus' : band(share, (x) => x <= R.income_share_per_hour.low, (x) => x > R.income_share_per_hour.high);
  return [
    { factor: 'specialization', effect: features.lawyer_specialization === caseFields.case_type ? 'plus' : 'minus',
      specialization: features.lawyer_specialization, case_type: caseFields.case_type },
    { factor: 'language', effect: features.lawyer_language === caseFields.client_language ? 'plus' : 'minus',
      language: features.lawyer_language, client_language: caseFields.client_language },
    { factor: 'price', effect: priceEffect, hourly_rate: rate, client_income: income, income_share_per_hour: share },
    { factor: 'distance', effect: band(features.distance_km, (x) => x <= R.distance_km.near, (x) => x > R.distance_km.far),
      distance_km: features.distance_km },
    { factor: 'caseload', effect: band(features.lawyer_active_cases, (x) => x <= R.active_cases.light, (x) => x >= R.active_cases.heavy),
      active_cases: features.lawyer_active_cases },
    { factor: 'record', effect: band(features.lawyer_rating, (x) => x >= R.rating.good, (x) => x < R.rating.poor),
      rating: features.lawyer_rating, experience_years: features.lawyer_experience_years },
  ];
}

/** Each shown lawyer with its `reasons` (see explain), from the instances sent to the model. */
function withReasons(shown, caseFields, features) {
  const byId = new Map();
  for (const f of features) byId.set(String(f.lawyer_id), f);
  return shown.map((l) => ({ ...l, reasons: explain(caseFields, byId.get(String(l.id))) }));
}

module.exports = {
  originOf, buildCandidates, mergeRanking, plainOrder, isEligible, eligibleFirst, explain, withReasons, REASON_RULES,
};
