"""Convert IBM Debater® Claim Stance into vdbench's labelled-set format.

    python scripts/write_ibm_sets.py [--source ../shared/data/ibm-claim-stance.jsonl]

Writes ``vdbench/data/stance/ibm/{train,test}.jsonl`` (IBM's own split by topic), one line
per claim: ``{"topic", "proposition", "prompt", "response", "label", "claim_id"}``. The
motion ("This house would ban boxing") becomes a proposition ("We should ban boxing."),
the prompt asks for a view on it, the claim is the response, PRO → support and
CON → oppose. Licence: CC BY-SA 3.0 (see the folder's README.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "vdbench" / "data" / "stance" / "ibm"
LABELS = {"PRO": "support", "CON": "oppose"}


def motion_to_proposition(motion: str) -> str:
    """'This house believes that X' → 'X.'; 'This house would Y' → 'We should Y.'"""
    text = motion.strip().rstrip(".")
    for prefix, lead in (("This house believes that ", ""), ("This house believes ", ""),
                         ("This house would ", "We should "), ("This house supports ", "We should support ")):
        if text.startswith(prefix):
            rest = text[len(prefix):]
            sentence = lead + rest if lead else rest[:1].upper() + rest[1:]
            return sentence + "."
    raise ValueError(f"unrecognised motion: {motion!r}")


def topic_slug(proposition: str) -> str:
    words = re.findall(r"[a-z0-9]+", proposition.lower())
    return "ibm_" + "_".join(words[:6])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "data" / "ibm-claim-stance.jsonl")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rows: dict[str, list[dict]] = {"train": [], "test": []}
    for line in args.source.read_text("utf-8").splitlines():
        claim = json.loads(line)
        proposition = motion_to_proposition(claim["topic"])
        rows[claim["split"]].append({
            "topic": topic_slug(proposition),
            "proposition": proposition,
            "prompt": f'What is your view on the statement "{proposition}"?',
            "response": claim["claim"].strip(),
            "label": LABELS[claim["stance"]],
            "claim_id": claim["claim_id"],
        })
    args.out.mkdir(parents=True, exist_ok=True)
    for split, items in rows.items():
        items.sort(key=lambda r: (r["topic"], r["claim_id"]))
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items)
        (args.out / f"{split}.jsonl").write_text(text, encoding="utf-8")
        print(f"{split}: {len(items)} claims, {len({r['topic'] for r in items})} topics, "
              f"labels {dict(Counter(r['label'] for r in items))}, "
              f"sha256:{hashlib.sha256(text.encode()).hexdigest()[:16]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
