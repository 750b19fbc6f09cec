'use strict';
// The data contract's vocabularies and limits, from contract.json: generated from ml_model/schema.py
// (the one source) by `python ml_model/contract.py`; a test fails when the two differ.

const CONTRACT = require('./contract.json');

const vocabOf = (field) => Object.freeze([...CONTRACT.fields[field].vocab]);
const CASE_TYPES = vocabOf('case_type');
const LANGUAGES = vocabOf('client_language');
const REGIONS = vocabOf('client_region');
const URGENCIES = vocabOf('urgency');

/** The service's own range for a numeric field: the backend refuses exactly what the service would. */
function limitsOf(field) {
  const f = CONTRACT.fields[field];
  return { min: f.min ?? -Infinity, max: f.max ?? Infinity, integer: f.kind === 'int' };
}

// What happened after a match, for one shown lawyer, and the training label it becomes (the
// contract's `match`: 1 = the engagement succeeded). Not a model feature; recorded by the backend.
const OUTCOME_LABELS = Object.freeze({ engaged: 1, declined: 0, no_response: 0 });
const OUTCOMES = Object.freeze(Object.keys(OUTCOME_LABELS));

module.exports = { CONTRACT, CASE_TYPES, LANGUAGES, REGIONS, URGENCIES, OUTCOME_LABELS, OUTCOMES, limitsOf };
