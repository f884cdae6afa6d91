"""Capability beside values: general-ability scores at each checkpoint.

A stance shift bought by a model that can no longer do its job is not a value drift, so
vdbench can score each checkpoint on capability tasks in the same pass that samples it:
lm-evaluation-harness tasks (hellaswag, piqa, mmlu, or a local task YAML), run through
lm-eval's own Python API on the in-memory model, and a built-in `micro` task for the micro
world. Scores land in the store's `capability` table beside the stances.

- `spec`: parse a `--capability` list and the sample limit (no heavy imports).
- `micro`: the built-in micro task's items, written as an lm-eval task (YAML + JSONL).
- `harness`: the lm-eval engine (imported only when capability is asked for).
- `records`: write and read the `capability` table (light: the TUI reads through it).
"""
