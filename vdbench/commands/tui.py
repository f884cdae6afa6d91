"""`vdbench tui`: the interactive terminal workbench over a store."""

from __future__ import annotations

import argparse

from vdbench.commands.common import add_db, check_store_path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tui", help="interactive terminal UI: runs, stances, drift, audit, samples, judge",
        description="Browse a store in the terminal: runs and lineage, per-topic stance bars "
        "per checkpoint, drift curves, preference-data value gaps, samples, judge calibration "
        "and human labelling. Works over SSH at 80×24; F1 or ? shows the keys. New checkpoints "
        "written by a running training process appear live. See docs/tui.md.",
    )
    add_db(p)
    p.add_argument("--poll", type=float, default=2.0, metavar="S",
                   help="seconds between live checks of the store (0: off; default 2)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates for CIs (default 1000)")
    p.add_argument("--confidence", type=float, default=0.95, help="CI level (default 0.95)")
    p.add_argument("--user", help="annotator name for human labels (default: $USER)")
    p.set_defaults(func=cmd_tui)


def cmd_tui(args: argparse.Namespace) -> int:
    from vdbench.errors import InputError

    if not 0.5 <= args.confidence < 1:
        raise InputError(f"--confidence must be in [0.5, 1), got {args.confidence}")
    if args.n_boot < 1:
        raise InputError(f"--n-boot must be at least 1, got {args.n_boot}")
    if args.poll < 0:
        raise InputError(f"--poll must be 0 (off) or positive seconds, got {args.poll}")
    check_store_path(args.db)
    from vdbench.tui.app import VdbenchApp

    VdbenchApp(args.db, poll_s=args.poll or None, n_boot=args.n_boot,
               confidence=args.confidence, user=args.user).run()
    return 0
