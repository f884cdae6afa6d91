"""The Textual TUI (`vdbench tui --db DB`).

`vdbench.tui.data` and `vdbench.tui.render` are headless (no Textual); `vdbench.tui.app`
is the app. Nothing here imports torch, transformers or trl.
"""
