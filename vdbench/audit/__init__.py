"""Preference-data value-gap audit: will this dataset move the model's values at all?

Stages, each resumable on its own against the store:

- ``sources``  — stream rows from JSONL, JSONL.gz, Parquet or a ``datasets`` directory;
- ``formats``  — turn a row into (prompt, chosen, rejected) for HH-RLHF, UltraFeedback, TRL;
- ``importer`` — validate and write pairs in bounded batches (nothing half-written);
- ``topics``   — assign each pair's prompt to an eval-set topic or "off-topic";
- ``judging``  — judge chosen and rejected against the topic's proposition;
- ``stats``    — pure functions: stance margin Δ, flip rate, JS divergence, bootstrap CIs;
- ``report``   — the audit report (per dataset, per topic) from the store;
- ``synth``    — synthetic value-gap pairs with a controllable gap, in TRL format
  (responses from ``templates`` or a local model);
- ``pipeline`` — the four steps end to end, as ``vdbench audit`` runs them;
- ``storeio``  — bulk write transactions with bounded memory;
- ``select``   — value-aware curation: the audited pairs one rule keeps, as TRL JSONL.
"""
