"""Judge every unjudged sample of a run, in committed chunks, so a kill loses one chunk at
most and a re-run picks up where it stopped."""

from __future__ import annotations

import time
from typing import Any

from vdbench.judges.base import Judge, JudgeItem
from vdbench.judgments import unjudged_samples, write_judgments
from vdbench.store import Store


def judge_run(store: Store, run_id: str, judge: Judge, *, chunk: int = 512,
              progress: bool = False) -> dict[str, Any]:
    """Judge the run's samples that `judge` has not judged yet; returns counts and timing."""
    from vdbench import queries
    from vdbench.errors import InputError

    if chunk < 1:
        raise InputError(f"--chunk must be at least 1, got {chunk}", hint="samples per committed batch, e.g. 512")
    with store.read() as con:
        queries.require_run(con, run_id)
        total = con.execute("SELECT count(*) FROM samples WHERE run_id = ?", [run_id]).fetchall()[0][0]
    todo = unjudged_samples(store, run_id, judge.identity.judge_id)
    start, judged = time.perf_counter(), 0
    bar = None
    if progress and len(todo):
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task(f"judging {run_id}", total=len(todo))
    try:
        for offset in range(0, len(todo), chunk):
            part = todo.iloc[offset: offset + chunk]
            items = [JudgeItem(r.topic, r.proposition, r.prompt, r.response)
                     for r in part.itertuples(index=False)]
            judged += write_judgments(store, judge.identity, part, judge.score(items))
            if bar is not None:
                bar.update(task, advance=len(part))
    finally:
        if bar is not None:
            bar.stop()
    return {"run": run_id, "judge": judge.identity.judge_id, "judged": judged,
            "already": total - len(todo), "samples": total,
            "seconds": time.perf_counter() - start}
