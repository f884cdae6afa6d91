"""Eval sets: the built-in V-PRISM-style set, user files, and the V-PRISM builder."""

from vdbench.evalsets.model import EvalPrompt, EvalSet
from vdbench.evalsets.registry import get_eval_set, list_eval_sets

__all__ = ["EvalPrompt", "EvalSet", "get_eval_set", "list_eval_sets"]
