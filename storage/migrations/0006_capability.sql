-- Capability beside values: general-ability scores per checkpoint (lm-evaluation-harness
-- tasks such as hellaswag or mmlu, or vdbench's built-in micro task), so a stance shift can
-- be read against what the model can still do. One row per (checkpoint, task, metric);
-- the natural key makes every write INSERT OR IGNORE (a re-run adds only what is missing).
CREATE TABLE capability (
    run_id       VARCHAR NOT NULL,
    step         INTEGER NOT NULL,
    task         VARCHAR NOT NULL,             -- lm-eval task or group name (vdbench_micro, piqa, mmlu)
    metric       VARCHAR NOT NULL,             -- acc, acc_norm, exact_match, ...
    filter       VARCHAR NOT NULL DEFAULT 'none', -- lm-eval's filter of that metric
    value        DOUBLE NOT NULL,
    stderr       DOUBLE,                       -- lm-eval's standard error (NULL when it gives none)
    n            INTEGER NOT NULL,             -- items scored (after the sample limit)
    item_scores  DOUBLE[],                     -- per-item scores in document order (leaf tasks),
                                               -- so Δ between checkpoints gets a paired CI
    parent_task  VARCHAR,                      -- the group a subtask belongs to; NULL at top level
    settings     JSON,                         -- engine version, limit, few-shot, batch size
    created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_id, step, task, metric, filter)
);
