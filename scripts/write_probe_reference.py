"""Give the probe judge an out-of-domain distance (judge health), without retraining it.

    python scripts/write_probe_reference.py

Embeds the probe's training responses (vdbench/data/stance/train.jsonl) with the probe's
own encoder, stores them as ``judge_models/probe/reference.safetensors`` (float16) and sets
``ood_threshold`` in the probe's manifest to the 95th percentile of the OOD distance on the
held-out set (vdbench/data/stance/heldout.jsonl). The probe's weights and probabilities do
not change. Deterministic.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from vdbench.judge_health import ood_distance  # noqa: E402
from vdbench.judges import features as F  # noqa: E402
from vdbench.judges.labelled import read_labelled, stance_data_dir  # noqa: E402

PROBE = ROOT / "judge_models" / "probe"


def main() -> int:
    import torch
    from safetensors.numpy import save_file

    torch.set_num_threads(2)
    encoder = F.load_encoder()
    train = read_labelled(stance_data_dir() / "train.jsonl")
    responses = list(dict.fromkeys(i.response for i in train.items))
    reference = F.encode_texts(encoder, responses).astype(np.float16)
    save_file({"pooled": reference}, str(PROBE / "reference.safetensors"))
    heldout = read_labelled("heldout")
    held = F.encode_texts(encoder, [i.response for i in heldout.items]).astype(np.float32)
    threshold = float(np.quantile(ood_distance(held, reference.astype(np.float32)), 0.95))
    manifest_path = PROBE / "manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8"))
    manifest["reference"] = "reference.safetensors"
    manifest["ood_threshold"] = round(threshold, 6)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"reference: {len(responses)} responses; ood_threshold {threshold:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
