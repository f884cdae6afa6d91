"""The micro world's dataset files (light: no torch), by the names the CLI uses."""

from __future__ import annotations

# Dataset name (as the CLI and the issue call them) -> file under data/.
DATASET_FILES: dict[str, str] = {
    "pretrain": "pretrain.jsonl",
    "chat": "chat_sft.jsonl",
    "instruct": "instruct_sft.jsonl",
    "style": "style_pref.jsonl",
    "gap-support": "gap_support_pref.jsonl",
    "gap-oppose": "gap_oppose_pref.jsonl",
}
