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

/** The top `limit` profiles, best first, each with its distance and match probability. */
function mergeRanking(ranking, profiles, distances, limit) {
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
  return ordered.slice(0, limit).map((r) => {
    const p = byId.get(String(r.lawyer_id));
    return { ...p, distance_km: distances.get(p.id), match_probability: r.match_probability };
  });
}

module.exports = { originOf, buildCandidates, mergeRanking };
