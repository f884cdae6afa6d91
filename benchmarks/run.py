"""Run the benchmarks: `python -m benchmarks.run [NAME ...] [--quick] [--list]`.

The one runner for every ``benchmarks/bench_*.py`` module: each exposes ``BENCHMARKS``
(a module without one is an error, so no benchmark is left outside the runner). Prints one
line per result (a ratio against a baseline measured in the same run; studies such as the
interval coverage print no ratio) and exits non-zero when a result misses its target or a
benchmark breaks. ``--quick`` uses small sizes everywhere and fails only when a benchmark
breaks, so ``python -m benchmarks.run --quick`` is a smoke test; ``--list`` prints the
names without running anything.
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
        if not getattr(module, "BENCHMARKS", None):
            raise SystemExit(f"{path.name} exposes no BENCHMARKS; every benchmark runs from here")
        for bench in module.BENCHMARKS:
            if bench.name in found:
                raise SystemExit(f"benchmark name {bench.name!r} is used twice")
            found[bench.name] = bench
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmark names (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--list", action="store_true", help="print the benchmark names and exit")
    args = parser.parse_args(argv)
    pin_threads(args.threads)
    benches = discover()
    chosen = args.names or list(benches)
    unknown = [n for n in chosen if n not in benches]
    if unknown:
        print(f"unknown benchmark(s): {unknown}; known: {list(benches)}", file=sys.stderr)
        return 2
    if args.list:
        for name in chosen:
            module = sys.modules[benches[name].run.__module__]
            print(f"{name:<32} {module.__name__.removeprefix('benchmarks.')}")
        return 0
    failed, errors, results = [], [], []
    for name in chosen:
        try:
            for result in benches[name].run(args.quick):
                results.append(result)
                print(result.line(), flush=True)
                if result.passed is False:
                    failed.append(result.name)
        except (Exception, SystemExit) as exc:  # one broken benchmark must not hide the others
            errors.append(name)
            print(f"{name}: ERROR {type(exc).__name__}: {str(exc).strip()[-2000:]}", flush=True)
    if args.json:
        print(json.dumps([{**r.__dict__, "ratio": r.ratio} for r in results], default=str, indent=2))
    # Quick sizes are too small (and a shared CI box too noisy) to judge timing targets: as a
    # smoke test, --quick fails only when a benchmark breaks; missed targets are printed.
    print(f"{len(results)} results; missed targets: {failed or 'none'}; errors: {errors or 'none'}"
          + (" (--quick: missed targets do not fail the run)" if args.quick and failed else ""))
    return 1 if errors or (failed and not args.quick) else 0


if __name__ == "__main__":
    sys.exit(main())
