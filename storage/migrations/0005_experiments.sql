-- Experiments: a declared grid of stages × hyper-parameters × seeds, expanded into runs.
-- Each run an experiment plans is tagged with its stage, grid point and seed, so reports
-- aggregate over seeds and compare grid points. run_results keeps what training itself
-- measured (loss, reward margin, PPO reward and KL to the reference) beside the stances.
CREATE TABLE experiments (
    experiment   VARCHAR PRIMARY KEY,
    source       VARCHAR,                      -- the TOML file it was read from
    spec         JSON NOT NULL,                -- the file as parsed
    created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at   TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE experiment_runs (
    experiment   VARCHAR NOT NULL,
    run_id       VARCHAR NOT NULL,
    stage        VARCHAR NOT NULL,             -- the [[stage]] it expands
    algorithm    VARCHAR NOT NULL,
    dataset      VARCHAR NOT NULL,             -- the experiment's name for its training data
    parent_run   VARCHAR,
    point        VARCHAR NOT NULL,             -- stage + grid values, without the seed
    grid         JSON NOT NULL,                -- {option: value} of the grid axes (lineage included)
    options      JSON NOT NULL,                -- every resolved training option
    seed         INTEGER NOT NULL,
    moved        VARCHAR,                      -- the stance the stage is meant to move
    PRIMARY KEY (experiment, run_id)
);

CREATE TABLE run_results (
    run_id       VARCHAR PRIMARY KEY,
    stats        JSON NOT NULL,                -- training's own summary (losses, rewards, KL)
    created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp
);
