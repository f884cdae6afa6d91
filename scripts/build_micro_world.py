#!/usr/bin/env python
"""Build the micro world (tokenizer, pre-trained micro Llama, datasets) from a seed.

    python scripts/build_micro_world.py --out runs/micro --seed 0 [--steps 600]

Reuses an existing complete build with the same seed and configuration unless --force.
See docs/micro_world.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# Tiny models on 2 cores slow down sharply when BLAS/OpenMP threads contend.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="build directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=600, help="pre-training steps")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON")
    args = parser.parse_args(argv)

    from vdbench.errors import VdbenchError
    from vdbench.micro import build_micro_world

    started = time.perf_counter()
    try:
        world = build_micro_world(
            args.out, seed=args.seed, steps=args.steps, num_threads=args.threads, force=args.force
        )
    except VdbenchError as exc:
        print(f"error: {exc.render()}", file=sys.stderr)
        return exc.exit_code
    elapsed = time.perf_counter() - started
    manifest = world.manifest
    if args.json:
        print(json.dumps({k: v for k, v in manifest.items() if k != "files"}, indent=2))
        return 0
    pre = manifest["pretrain"]
    print(f"micro world (seed {world.seed}, config {world.config_hash}) in {world.root}")
    print(
        f"  model: {manifest['parameters']:,} parameters, vocab {manifest['vocab_size']}; "
        f"pre-trained {pre['steps']} steps in {pre['seconds']:.0f} s "
        f"({pre['cpu_seconds']:.0f} s CPU), "
        f"final loss {pre['final_loss']:.3f}"
    )
    for name, path in world.datasets.items():
        print(f"  {name:<12} {manifest['rows'][name]:>5} rows  {path}")
    print(f"  ({'reused the cached build' if world.from_cache else 'built'} in {elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
