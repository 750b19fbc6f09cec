'use strict';
const path = require('node:path');
const fs = require('node:fs');

const EARTH_RADIUS_KM = 6371.0088;
const DEG = Math.PI / 180;

/** Great-circle distance in km between two {lat, lon} points (haversine). */
function haversineKm(lat1, lon1, lat2, lon2) {
  const dLat = (lat2 - lat1) * DEG;
  const dLon = (lon2 - lon1) * DEG;
  const s1 = Math.sin(dLat / 2);
  const s2 = Math.sin(dLon / 2);
  const a = s1 * s1 + Math.cos(lat1 * DEG) * Math.cos(lat2 * DEG) * s2 * s2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}

function loadRegionCentroids(file = path.join(__dirname, '..', 'data', 'regions.json')) {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  const out = {};
  for (const [name, point] of Object.entries(raw)) {
    if (name.startsWith('_')) continue;
    out[name] = Object.freeze({ lat: point.lat, lon: point.lon });
  }
  return Object.freeze(out);
}

const REGION_CENTROIDS = loadRegionCentroids();

/** The region whose centroid is closest to the point. */
function nearestRegion(lat, lon) {
  let best = null;
  let bestKm = Infinity;
  for (const [name, c] of Object.entries(REGION_CENTROIDS)) {
    const km = haversineKm(lat, lon, c.lat, c.lon);
    if (km < bestKm) { bestKm = km; best = name; }
  }
  return best;
}

module.exports = { haversineKm, REGION_CENTROIDS, nearestRegion };
