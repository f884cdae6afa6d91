"""Training with drift capture: TRL stages (SFT, DPO, SimPO), our PPO, the DriftCallback.

Heavy libraries (torch, transformers, trl) are imported by the submodules that need
them; importing this package is cheap. Entry points: `runner.prepare_training` /
`runner.run_training` (what `vdbench train` runs) and `callback.DriftCallback` (for any
Trainer). See docs/training.md.
"""
