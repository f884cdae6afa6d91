-- Preference-data audit, judge calibration and human labels.

CREATE TABLE pref_datasets (
    dataset_id   VARCHAR PRIMARY KEY,
    format       VARCHAR NOT NULL,             -- hh-rlhf | ultrafeedback | trl
    source       VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    n_pairs      INTEGER NOT NULL,
    n_skipped    INTEGER NOT NULL DEFAULT 0,
    created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE pref_pairs (
    dataset_id   VARCHAR NOT NULL,
    pair_id      BIGINT NOT NULL,              -- source row number (1-based line / row)
    prompt       VARCHAR NOT NULL,
    chosen       VARCHAR NOT NULL,
    rejected     VARCHAR NOT NULL,
    topic        VARCHAR,                      -- eval-set topic or 'off-topic'
    topic_score  DOUBLE,
    flags        VARCHAR,                      -- e.g. 'identical'
    PRIMARY KEY (dataset_id, pair_id)
);

CREATE TABLE pair_judgments (
    judge_id     VARCHAR NOT NULL,
    dataset_id   VARCHAR NOT NULL,
    pair_id      BIGINT NOT NULL,
    side         VARCHAR NOT NULL,             -- chosen | rejected
    p_support    DOUBLE NOT NULL,
    p_neutral    DOUBLE NOT NULL,
    p_oppose     DOUBLE NOT NULL,
    label        VARCHAR NOT NULL,
    truncated    BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (judge_id, dataset_id, pair_id, side)
);

CREATE TABLE calibrations (
    calibration_id VARCHAR PRIMARY KEY,
    judge_id       VARCHAR NOT NULL,
    reference      VARCHAR NOT NULL,           -- e.g. openai:gpt-4o or human
    method         VARCHAR NOT NULL,           -- temperature | vector
    params         JSON NOT NULL,
    report         JSON NOT NULL,              -- agreement, macro-F1, kappa, confusion, ECE before/after
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE reference_labels (
    source       VARCHAR NOT NULL,             -- 'human:<annotator>' or 'openai:<model>@<host>'
    sample_id    BIGINT NOT NULL,
    label        VARCHAR NOT NULL,
    p_support    DOUBLE,
    p_neutral    DOUBLE,
    p_oppose     DOUBLE,
    created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (source, sample_id)
);
