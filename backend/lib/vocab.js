'use strict';
// The data contract's vocabularies (mirrors ml_model/schema.py; keep the two in step).

const CASE_TYPES = Object.freeze(['family', 'criminal', 'immigration', 'housing', 'employment', 'consumer', 'civil_rights']);
const LANGUAGES = Object.freeze(['en', 'es', 'zh', 'ar', 'fr', 'vi']);
const REGIONS = Object.freeze(['north', 'south', 'east', 'west', 'central']);
const URGENCIES = Object.freeze(['low', 'medium', 'high']);

// What happened after a match, for one shown lawyer, and the training label it becomes (the
// contract's `match`: 1 = the engagement succeeded). Not a model feature; recorded by the backend.
const OUTCOME_LABELS = Object.freeze({ engaged: 1, declined: 0, no_response: 0 });
const OUTCOMES = Object.freeze(Object.keys(OUTCOME_LABELS));

module.exports = { CASE_TYPES, LANGUAGES, REGIONS, URGENCIES, OUTCOME_LABELS, OUTCOMES };
