-- 002: indexes for the directory's filters (specialization, region, language).
CREATE INDEX idx_lawyers_specialization_region ON lawyers (specialization, region);
CREATE INDEX idx_lawyers_region ON lawyers (region);
CREATE INDEX idx_lawyer_languages_language ON lawyer_languages (language, lawyer_id);
