"""One module per TUI view (tab)."""
