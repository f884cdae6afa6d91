"""Runs: the lineage tree (base → SFT → DPO / SimPO / PPO) with stage, algorithm,
checkpoint count, judge and last update."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from vdbench.tui.views.base import View
from vdbench.tui.widgets import Notice

if TYPE_CHECKING:
    import pandas as pd

    from vdbench.tui.data import Overview, RunInfo


def _when(value: object) -> str:
    if value is None:
        return "–"
    text = value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else str(value)
    return text


class RunsView(View):
    name_ = "runs"
    BINDINGS = [
        Binding("space", "mark", "Compare", show=True),
        Binding("d", "drift", "Drift", show=True),
    ]

    def compose(self) -> ComposeResult:
        yield Static("runs and lineage · enter: stances · space: mark for comparison · d: drift",
                     id="runs-head", classes="head")
        yield Notice()
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=False)
        yield Static("", id="runs-detail", classes="detail")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, key in (("run", "run"), ("stage", "stage"), ("algo", "algo"),
                           ("ckpts", "ckpts"), ("judge", "judge"), ("updated", "updated")):
            table.add_column(label, key=key)

    def reload(self) -> None:
        self.show_overview(self.vapp.overview)

    def focus_main(self) -> None:
        self.query_one(DataTable).focus()

    def show_overview(self, overview: Overview | None) -> None:
        table = self.query_one(DataTable)
        keep = table.cursor_row if table.row_count else None
        table.clear()
        if overview is None:
            return
        if not overview.runs:
            extra = (f" (it has {overview.n_pref_datasets} preference dataset(s): see Audit)"
                     if overview.n_pref_datasets else "")
            self.show_problem_text(
                "This store has no runs yet" + extra,
                "runs appear here as `vdbench train` or `vdbench sample` writes them",
                "try `vdbench demo`, or keep this open: new runs show up live")
            self.query_one("#runs-detail", Static).update("")
            return
        self.clear_problem()
        marked = self.vapp.compare_runs
        for run in overview.runs:
            mark = "◆ " if run.run_id in marked else ""
            selected = run.run_id == self.vapp.selected_run
            name = Text(run.guide, style="dim")
            name.append(mark + run.run_id, style="bold" if selected else "")
            name.append_text(_event_marker(run))
            table.add_row(name, run.stage, run.algorithm, str(run.n_checkpoints),
                          _short(run.judges or "–", 20), _when(run.updated_at), key=run.run_id)
        if keep is not None and keep < table.row_count:
            table.move_cursor(row=keep)
        elif self.vapp.selected_run in {r.run_id for r in overview.runs}:
            table.move_cursor(row=[r.run_id for r in overview.runs].index(self.vapp.selected_run))
        self._detail()

    def show_problem_text(self, title: str, detail: str, hint: str) -> None:
        from vdbench.tui.data import Problem

        self.show_problem(Problem(title, detail, hint))

    def _highlighted(self) -> RunInfo | None:
        overview = self.vapp.overview
        table = self.query_one(DataTable)
        if overview is None or not overview.runs or table.row_count == 0:
            return None
        return overview.runs[min(table.cursor_row, len(overview.runs) - 1)]

    @on(DataTable.RowHighlighted)
    def _detail(self) -> None:
        run = self._highlighted()
        detail = self.query_one("#runs-detail", Static)
        if run is None:
            detail.update("")
            return
        parent = "–" if not run.parent_run else (
            run.parent_run if run.parent_step is None else f"{run.parent_run}:{run.parent_step}")
        hp = (run.hparams or "{}").replace('"', "")
        detail.update(Text.assemble(
            (run.run_id, "bold"), f" · model {run.model or '–'} · parent {parent} · eval set "
            f"{run.eval_set or '–'} · seed {run.seed if run.seed is not None else '–'}\n",
            _event_detail(run),  # before hparams, which can fill the panel
            (f"hparams {hp}", "dim"), "\n",
            (f"judges: {run.judges or 'none yet'}", "dim")))

    @on(DataTable.RowSelected, "#runs-table")
    def action_open(self) -> None:
        run = self._highlighted()
        if run is not None:
            self.vapp.select_run(run.run_id)
            self.vapp.action_go("stances")

    def action_mark(self) -> None:
        run = self._highlighted()
        if run is None:
            return
        self.vapp.toggle_compare(run.run_id)
        self.show_overview(self.vapp.overview)

    def action_drift(self) -> None:
        run = self._highlighted()
        if run is not None:
            self.vapp.select_run(run.run_id)
            self.vapp.action_go("drift")

    def export_frame(self) -> tuple[str, pd.DataFrame] | None:
        import pandas as pd

        overview = self.vapp.overview
        if overview is None or not overview.runs:
            return None
        rows = [{"run_id": r.run_id, "stage": r.stage, "algorithm": r.algorithm,
                 "parent_run": r.parent_run, "parent_step": r.parent_step, "model": r.model,
                 "eval_set": r.eval_set, "n_checkpoints": r.n_checkpoints, "judges": r.judges,
                 "updated_at": r.updated_at, "depth": r.depth,
                 "budget_breaches": r.budget_breaches, "stopped_step": r.stopped_step}
                for r in overview.runs]
        return "runs", pd.DataFrame(rows)


def _event_marker(run: RunInfo) -> Text:
    """After the run's name: "■ stopped" when training stopped on its drift budget, "⚠"
    when the budget was exceeded (readable without colour)."""
    if run.stopped_step is not None:
        return Text(" ■ stopped", style="bold red")
    if run.budget_breaches:
        return Text(" ⚠", style="bold yellow")
    return Text("")


def _event_detail(run: RunInfo) -> Text:
    if run.stopped_step is None and not run.budget_breaches:
        return Text("")
    text = Text()
    if run.budget_breaches:
        text.append(f"drift budget exceeded by {run.budget_breaches} topic stance(s)", "yellow")
    if run.stopped_step is not None:
        text.append(f"{' · ' if run.budget_breaches else ''}stopped at step {run.stopped_step} "
                    "(rerun without --stop-on-budget to train on)", "red")
    return text.append("\n")


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
