'use strict';
// The data contract's vocabularies (mirrors ml_model/schema.py; keep the two in step).

const CASE_TYPES = Object.freeze(['family', 'criminal', 'immigration', 'housing', 'employment', 'consumer', 'civil_rights']);
const LANGUAGES = Object.freeze(['en', 'es', 'zh', 'ar', 'fr', 'vi']);
const REGIONS = Object.freeze(['north', 'south', 'east', 'west', 'central']);
const URGENCIES = Object.freeze(['low', 'medium', 'high']);

module.exports = { CASE_TYPES, LANGUAGES, REGIONS, URGENCIES };
