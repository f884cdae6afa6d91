"""Streaming import benchmark: N generated preference pairs into a fresh store.

Measures, in a fresh subprocess per run (so peak RSS is the import's own):
  - baseline: read + json.loads every line of the same file, nothing kept (the floor any
    streaming importer pays);
  - import:   `vdbench audit --no-topics --no-judge` (parse, validate, write in Arrow
    batches of --batch-size pairs per transaction).
and prints rows/s, the import/baseline time ratio, and peak RSS growth: VmHWM at the end
minus VmRSS just before the import starts (after imports and store creation), from
/proc/self/status.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_audit_import.py --pairs 1000000

Acceptance (issue 5): 1,000,000 pairs with peak RSS growth under 500 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script too: `python benchmarks/bench_audit_import.py`

from benchmarks.harness import Benchmark, Result  # noqa: E402


def write_pairs(path: Path, n: int, seed: int = 0) -> None:
    """`n` TRL pairs built from our templates, written line by line (never all in memory)."""
    from vdbench.audit.templates import ARGUMENTS, template_response

    rng = random.Random(seed)
    topics = list(ARGUMENTS)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            topic = topics[i % len(topics)]
            row = {
                "prompt": f"Question {i}: what do you think about {topic.replace('_', ' ')}?",
                "chosen": template_response(topic, rng.choice(("support", "oppose")), "good", rng),
                "rejected": template_response(topic, "neutral", rng.choice(("good", "poor")), rng),
            }
            fh.write(json.dumps(row) + "\n")


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(mode: str, data: str, db: str, batch_size: int) -> None:
    """Run one measurement in this (fresh) process and print a JSON line."""
    if mode == "import":
        import vdbench.audit.importer  # noqa: F401 - loaded before the baseline RSS is taken
        from vdbench.cli import main
        from vdbench.store import Store

        with Store(db).write():  # create the schema before the baseline RSS is taken
            pass
    before = _status_kb("VmRSS")
    started = time.perf_counter()
    if mode == "baseline":
        n = 0
        with open(data, "rb") as fh:
            for line in fh:
                json.loads(line)
                n += 1
    else:
        rc = main(
            [
                "audit",
                "--input",
                data,
                "--format",
                "trl",
                "--db",
                db,
                "--no-topics",
                "--no-judge",
                "--batch-size",
                str(batch_size),
                "--quiet",
                "--json",
            ]
        )
        if rc:
            raise SystemExit(rc)
        n = None
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "mode": mode,
                "seconds": seconds,
                "rss_before_kb": before,
                "hwm_kb": _status_kb("VmHWM"),
                "rows": n,
            }
        ),
        file=sys.stderr,
    )


def measure(mode: str, data: Path, db: Path, batch_size: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--data",
            str(data),
            "--db",
            str(db),
            "--batch-size",
            str(batch_size),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        raise SystemExit(f"{mode} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stderr.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--workdir", help="where to put the data and store (default: a temp dir)")
    parser.add_argument("--child", choices=("baseline", "import"), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.db, args.batch_size)
        return 0

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        data, db = Path(tmp) / "pairs.jsonl", Path(tmp) / "bench.duckdb"
        t = time.perf_counter()
        write_pairs(data, args.pairs)
        size_mb = data.stat().st_size / 1e6
        print(
            f"generated {args.pairs:,} pairs ({size_mb:,.0f} MB) in {time.perf_counter() - t:.1f} s"
        )
        base = measure("baseline", data, db, args.batch_size)
        imp = measure("import", data, db, args.batch_size)
        growth_mb = (imp["hwm_kb"] - imp["rss_before_kb"]) / 1024
        print(
            f"baseline (read + json.loads, nothing kept): {base['seconds']:.1f} s, "
            f"{args.pairs / base['seconds']:,.0f} rows/s"
        )
        print(
            f"import (--no-topics --no-judge, batch {args.batch_size:,}): {imp['seconds']:.1f} s, "
            f"{args.pairs / imp['seconds']:,.0f} rows/s; {imp['seconds'] / base['seconds']:.2f}x "
            f"the baseline's time"
        )
        print(
            f"peak RSS growth during import: {growth_mb:,.0f} MB "
            f"(VmRSS before {imp['rss_before_kb'] / 1024:,.0f} MB, VmHWM {imp['hwm_kb'] / 1024:,.0f} MB); "
            f"store {db.stat().st_size / 1e6:,.0f} MB"
        )
        print(f"bounded memory (< 500 MB growth): {'yes' if growth_mb < 500 else 'NO'}")
    return 0


def run(quick: bool) -> list[Result]:
    """For benchmarks/run.py: import vs the read-and-parse floor, and bounded memory."""
    pairs, batch_size = (20_000, 5_000) if quick else (1_000_000, 10_000)
    with tempfile.TemporaryDirectory(prefix="vdbench-bench-audit-") as tmp:
        data, db = Path(tmp) / "pairs.jsonl", Path(tmp) / "bench.duckdb"
        write_pairs(data, pairs)
        base = measure("baseline", data, db, batch_size)
        imp = measure("import", data, db, batch_size)
    growth_mb = (imp["hwm_kb"] - imp["rss_before_kb"]) / 1024
    return [Result(
        "audit.import", f"`vdbench audit --no-topics --no-judge` of {pairs:,} pairs",
        "read + json.loads of every line, nothing kept", imp["seconds"], base["seconds"],
        "peak RSS growth < 500 MB", growth_mb < 500,
        {"rows_per_s": f"{pairs / imp['seconds']:,.0f}", "rss_growth_mb": f"{growth_mb:,.0f}"},
    )]


BENCHMARKS = [Benchmark("audit.import", run)]

if __name__ == "__main__":
    sys.exit(main())
