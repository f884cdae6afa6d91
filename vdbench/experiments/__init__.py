"""Experiments: one TOML file declares a grid of post-training stages × hyper-parameters ×
seeds; `vdbench experiment` expands it into runs with lineage (spec, plan), trains them in
worker processes (runner), and reports seed-aggregated drift with hierarchical bootstrap CIs
and the comparisons between grid points (report). See docs/experiments.md."""
