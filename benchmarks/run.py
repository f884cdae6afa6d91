"""Run the benchmarks: `python -m benchmarks.run [NAME ...] [--quick]`.

Discovers ``benchmarks/bench_*.py`` modules exposing ``BENCHMARKS``; prints one line per
result (a ratio against a baseline measured in the same run) and exits non-zero when a
result misses its target.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from benchmarks.harness import pin_threads


def discover() -> dict[str, object]:
    found = {}
    for path in sorted(Path(__file__).parent.glob("bench_*.py")):
        module = importlib.import_module(f"benchmarks.{path.stem}")
        for bench in getattr(module, "BENCHMARKS", []):
            found[bench.name] = bench
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmark names (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    pin_threads(args.threads)
    benches = discover()
    chosen = args.names or list(benches)
    unknown = [n for n in chosen if n not in benches]
    if unknown:
        print(f"unknown benchmark(s): {unknown}; known: {list(benches)}", file=sys.stderr)
        return 2
    failed, results = False, []
    for name in chosen:
        for result in benches[name].run(args.quick):
            results.append(result)
            print(result.line(), flush=True)
            failed |= result.passed is False
    if args.json:
        print(json.dumps([{**r.__dict__, "ratio": r.ratio} for r in results], default=str, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
