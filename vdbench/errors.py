"""Errors a user can act on: what was wrong, where, and what to do."""

from __future__ import annotations


class VdbenchError(Exception):
    """An error caused by input or environment, shown to the user without a traceback.

    `where` is a location such as ``file.jsonl:12`` or ``row 7``; `hint` says what to do.
    """

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class InputError(VdbenchError):
    """Bad user input (file contents, options)."""


class StoreError(VdbenchError):
    """The store cannot be opened or used (newer schema, lock timeout, corruption)."""


class JudgeError(VdbenchError):
    """A judge cannot be built or cannot score (unknown name, missing model, bad vocabulary)."""
