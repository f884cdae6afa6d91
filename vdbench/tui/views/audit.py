"""Audit: value-gap Δ histograms of preference datasets, per dataset and per topic, with
flip rate and JS divergence; two datasets side by side (A and B)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from vdbench.tui.views.base import View
from vdbench.tui.widgets import DeltaHistogram, Notice

if TYPE_CHECKING:
    import pandas as pd

    from vdbench.tui.data import AuditData



class AuditView(View):
    name_ = "audit"
    BINDINGS = [
        Binding("a", "cycle('A')", "dataset A"),
        Binding("b", "cycle('B')", "dataset B"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.datasets: list[dict] = []
        self.choice = {"A": 0, "B": 1}
        self.data: dict[str, AuditData | None] = {"A": None, "B": None}
        self.summary: dict[str, pd.DataFrame] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="audit-head", classes="head")
        yield Notice()
        with Horizontal(id="audit-hists"):
            yield DeltaHistogram(id="hist-A", classes="hist")
            yield DeltaHistogram(id="hist-B", classes="hist")
        yield DataTable(id="audit-table", cursor_type="row")

    def focus_main(self) -> None:
        self.query_one(DataTable).focus()

    def reload(self) -> None:
        self.load_datasets(self.request("datasets"))

    @work(thread=True, exclusive=True, group="audit-datasets")
    def load_datasets(self, token: int) -> None:
        from vdbench.tui.data import list_pref_datasets

        self.deliver("datasets", token, lambda b: list_pref_datasets(b.ts))

    @work(thread=True, exclusive=True, group="audit-data")
    def load_data(self, ids: dict[str, str | None], token: int) -> None:
        from vdbench.tui.data import audit_summary, load_audit

        def both(b):
            out = {}
            for slot, dataset_id in ids.items():
                data = load_audit(b.ts, dataset_id) if dataset_id else None
                out[slot] = (data, audit_summary(data.margins) if data is not None else None)
            return out

        self.deliver("data", token, both)

    def show_datasets(self, datasets: list[dict]) -> None:
        from vdbench.tui.data import Problem

        self.datasets = datasets
        if not datasets:
            self.show_problem(Problem(
                "No preference datasets in this store",
                "the audit measures whether chosen and rejected answers differ in stance",
                "import and judge one: vdbench audit --input FILE --format hh-rlhf|ultrafeedback|trl --db DB"))
            self.query_one("#audit-head", Static).update("")
            for slot in "AB":
                self.query_one(f"#hist-{slot}", DeltaHistogram).show(Text(""), None)
            self.query_one(DataTable).clear(columns=True)
            return
        self.clear_problem()
        n = len(datasets)
        self.choice = {"A": self.choice["A"] % n, "B": self.choice["B"] % n if n > 1 else -1}
        self._load()

    def _load(self) -> None:
        ids = {slot: (self.datasets[i]["dataset_id"] if i >= 0 else None)
               for slot, i in self.choice.items()}
        self.load_data(ids, self.request("data"))

    def show_data(self, value: dict) -> None:
        self.data = {slot: v[0] for slot, v in value.items()}
        self.summary = {slot: v[1] for slot, v in value.items() if v[1] is not None}
        head = Text()
        for slot in "AB":
            d = self.data.get(slot)
            if d is None:
                continue
            judged = len(d.margins)
            head.append(f"{slot} ", style="bold")
            head.append(f"{d.dataset_id}", style="bold")
            head.append(f" ({d.format}, {judged}/{d.n_pairs} pairs judged) · "
                        if slot == "A" and self.data.get("B") is None else
                        f" ({d.format}, {judged}/{d.n_pairs}) · ")
        head.append("a/b change", style="dim")
        self.query_one("#audit-head", Static).update(head)
        self._fill_table()
        self._render_hists()

    def _topics(self) -> list[str]:
        from vdbench.tui.data import ALL_TOPICS

        topics = {t for s in self.summary.values() for t in s["topic"]}
        return [ALL_TOPICS, *sorted(topics - {ALL_TOPICS})] if topics else []

    def _fill_table(self) -> None:
        from vdbench.tui.data import ALL_TOPICS

        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear(columns=True)
        table.add_column("topic", key="topic", width=14)
        slots = [s for s in "AB" if self.data.get(s) is not None]
        for slot in slots:
            for col in ("n", "Δ̄", "flip", "JS"):
                table.add_column(f"{slot} {col}", key=f"{slot}-{col}")
        for topic in self._topics():
            cells: list[str | Text] = ["all topics" if topic == ALL_TOPICS else topic[:14]]
            for slot in slots:
                s = self.summary.get(slot)
                row = s[s["topic"] == topic] if s is not None else None
                if row is None or row.empty:
                    cells += ["–"] * 4
                    continue
                r = row.iloc[0]
                cells += [str(int(r["n"])), f"{r['mean_delta']:+.2f}", f"{r['flip_rate']:.0%}",
                          f"{r['js']:.2f}"]
            table.add_row(*cells, key=topic)
        if table.row_count:
            table.move_cursor(row=min(keep or 0, table.row_count - 1))

    def _topic(self) -> str | None:
        topics = self._topics()
        if not topics:
            return None
        return topics[min(self.query_one(DataTable).cursor_row, len(topics) - 1)]

    @on(DataTable.RowHighlighted, "#audit-table")
    def _render_hists(self) -> None:
        from vdbench.tui.data import ALL_TOPICS, delta_histogram

        topic = self._topic()
        for slot in "AB":
            panel = self.query_one(f"#hist-{slot}", DeltaHistogram)
            d = self.data.get(slot)
            if d is None:
                panel.show(Text("B: only one dataset in the store", style="dim")
                           if slot == "B" else Text(""), None)
                continue
            if d.problem is not None:
                panel.show(Text.assemble((f"{slot}: {d.problem.title}\n", "bold"), d.problem.detail,
                                         ("\n→ " + (d.problem.hint or ""), "italic")), None)
                continue
            m = d.margins if topic in (None, ALL_TOPICS) else d.margins[d.margins["topic"] == topic]
            s = self.summary[slot]
            row = s[s["topic"] == (topic or ALL_TOPICS)]
            scope = "all topics" if topic in (None, ALL_TOPICS) else topic
            title = Text(f"{slot} {d.dataset_id[:16]} · {scope[:14]} · n {len(m)}\n", style="bold")
            if row.empty or m.empty:
                panel.show(title + Text("no judged pairs on this topic", style="dim"), None)
                continue
            r = row.iloc[0]
            title.append(f"Δ̄ {r['mean_delta']:+.2f} |Δ| {r['mean_abs_delta']:.2f} "
                         f"flip {r['flip_rate']:.0%} JS {r['js']:.2f}\n", style="")
            counts, _ = delta_histogram(m["delta"].to_numpy())
            panel.show(title, [int(c) for c in counts])

    def action_cycle(self, slot: str) -> None:
        if not self.datasets:
            return
        n = len(self.datasets)
        self.choice[slot] = (self.choice[slot] + 1) % n
        self._load()

    def export_frame(self) -> tuple[str, pd.DataFrame] | None:
        import pandas as pd

        parts = []
        for slot in "AB":
            d = self.data.get(slot)
            if d is None or d.margins.empty:
                continue
            m = d.margins.copy()
            m.insert(0, "dataset_id", d.dataset_id)
            m.insert(1, "judge_id", d.judge_id)
            parts.append(m)
        if not parts:
            return None
        return "audit-" + "-".join(str(p["dataset_id"].iloc[0]) for p in parts), pd.concat(parts)
