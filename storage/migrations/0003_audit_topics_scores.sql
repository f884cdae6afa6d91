-- Preference-data audit: what topic assignment and import produced, so a re-run can
-- resume, re-threshold without re-embedding, and re-judge only pairs whose topic changed.

-- How the dataset's pairs were assigned to topics (eval set, method, threshold, topic-map
-- hash, embedder) and what the import skipped (counts by reason, first bad rows).
ALTER TABLE pref_datasets ADD COLUMN topic_config JSON;
ALTER TABLE pref_datasets ADD COLUMN import_report JSON;

-- nearest_topic: the most similar eval-set topic whatever the threshold (the proposition an
-- off-topic pair is judged against); topic_source: embedding | map | none.
ALTER TABLE pref_pairs ADD COLUMN nearest_topic VARCHAR;
ALTER TABLE pref_pairs ADD COLUMN topic_source VARCHAR;
-- Optional per-response scores from the source (UltraFeedback score_chosen / score_rejected).
ALTER TABLE pref_pairs ADD COLUMN score_chosen DOUBLE;
ALTER TABLE pref_pairs ADD COLUMN score_rejected DOUBLE;

-- The topic whose proposition the response was judged against: a judgment made against
-- another topic's proposition is stale once the pair's topic changes.
ALTER TABLE pair_judgments ADD COLUMN topic VARCHAR;
ALTER TABLE pair_judgments ADD COLUMN note VARCHAR;
