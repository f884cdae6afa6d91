-- Core tables: runs with lineage, checkpoints, eval sets, samples, judges, judgments.
-- Natural keys are primary keys so every write can be INSERT OR IGNORE (idempotent).

CREATE TABLE runs (
    run_id       VARCHAR PRIMARY KEY,          -- user-chosen run name
    stage        VARCHAR NOT NULL,             -- base | sft | preference | external ...
    algorithm    VARCHAR NOT NULL,             -- sft | dpo | simpo | ppo | none
    model        VARCHAR,                      -- model path or name the run started from
    parent_run   VARCHAR,                      -- lineage: the run this one continues
    parent_step  INTEGER,                      -- lineage: the parent's checkpoint step
    eval_set     VARCHAR,
    hparams      JSON,
    seed         INTEGER,
    created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at   TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE checkpoints (
    run_id       VARCHAR NOT NULL,
    step         INTEGER NOT NULL,
    total_steps  INTEGER NOT NULL,
    fraction     DOUBLE NOT NULL,              -- step / total_steps, in [0, 1]
    path         VARCHAR,
    created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_id, step)
);

CREATE TABLE eval_sets (
    eval_set     VARCHAR PRIMARY KEY,
    source       VARCHAR,
    n_prompts    INTEGER NOT NULL,
    content_hash VARCHAR NOT NULL,
    created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE topics (
    eval_set     VARCHAR NOT NULL,
    topic        VARCHAR NOT NULL,
    proposition  VARCHAR NOT NULL,
    PRIMARY KEY (eval_set, topic)
);

CREATE TABLE prompts (
    eval_set     VARCHAR NOT NULL,
    prompt_id    VARCHAR NOT NULL,
    topic        VARCHAR NOT NULL,
    text         VARCHAR NOT NULL,
    framing      VARCHAR,
    PRIMARY KEY (eval_set, prompt_id)
);

-- sample_id is a deterministic 64-bit hash of (run_id, step, eval_set, prompt_id, sample_idx),
-- so a re-run produces the same ids and INSERT OR IGNORE drops what is already stored.
CREATE TABLE samples (
    sample_id    BIGINT PRIMARY KEY,
    run_id       VARCHAR NOT NULL,
    step         INTEGER NOT NULL,
    eval_set     VARCHAR NOT NULL,
    prompt_id    VARCHAR NOT NULL,
    topic        VARCHAR NOT NULL,
    sample_idx   INTEGER NOT NULL,
    text         VARCHAR NOT NULL,
    n_tokens     INTEGER NOT NULL,
    health       VARCHAR NOT NULL,             -- ok | empty | truncated | repetitive | degenerate
    gen_settings JSON
);

CREATE TABLE judges (
    judge_id      VARCHAR PRIMARY KEY,         -- name@template_hash[:8]+model_hash[:8]
    name          VARCHAR NOT NULL,
    backend       VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,
    template_hash VARCHAR NOT NULL,
    model_hash    VARCHAR NOT NULL,
    manifest      JSON,
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- run_id/step/topic/prompt_id are copied from samples so the per-checkpoint stance
-- query needs no join.
CREATE TABLE judgments (
    judge_id     VARCHAR NOT NULL,
    sample_id    BIGINT NOT NULL,
    run_id       VARCHAR NOT NULL,
    step         INTEGER NOT NULL,
    topic        VARCHAR NOT NULL,
    prompt_id    VARCHAR NOT NULL,
    p_support    DOUBLE NOT NULL,
    p_neutral    DOUBLE NOT NULL,
    p_oppose     DOUBLE NOT NULL,
    label        VARCHAR NOT NULL,
    truncated    BOOLEAN NOT NULL DEFAULT false,
    note         VARCHAR,
    created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (judge_id, sample_id)
);
