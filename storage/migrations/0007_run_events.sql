-- Run events: what happened to a run during training besides its checkpoints — a drift
-- budget exceeded (kind drift_budget), training stopped on it (stopped), a stopped run
-- trained on (resumed). One row per (run, step, kind); writers INSERT OR IGNORE, so a
-- rerun records nothing twice. payload holds the details (breaches, M and its CI).
CREATE TABLE IF NOT EXISTS run_events (
    run_id       VARCHAR NOT NULL,
    step         INTEGER NOT NULL,
    kind         VARCHAR NOT NULL,
    payload      JSON NOT NULL,
    created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_id, step, kind)
);
