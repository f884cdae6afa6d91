"""Local LM judge benchmarks on one random Llama (hidden 256, 4 layers) and the same texts.

- judge.label_logits: the hf judge's label-logit scoring (one forward pass per batch, the
  shared prefix's KV cache reused) vs generate-then-parse (greedy `model.generate` of a few
  tokens, then the first A/B/C in the decoded text), same batches. Target ≥ 5×.
- judge.prefix_reuse_hf / judge.prefix_reuse_gguf: the same judge with and without
  reuse of the instruction prefix (gguf only when llama-cpp-python and the converter from
  scripts/fetch_gguf_converter.sh are there). Informational.

The model is random, so its letters are noise; only the time is measured. Times are the
median *process CPU time* of the repeats: with torch and llama.cpp pinned to one thread
that is the work done, and unlike wall time it holds steady when other jobs share the
cores.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

from benchmarks.harness import Benchmark, Result
from benchmarks.harness import median_cpu_time as median_time
from vdbench.evalsets.registry import builtin_eval_set
from vdbench.evalsets.topics import BUILTIN_TOPICS
from vdbench.judges.base import JudgeItem
from vdbench.judges.prompting import DEFAULT_TEMPLATE

NEW_TOKENS = 8  # what generate-then-parse lets the model write before looking for a letter
BATCH_SIZE = 8
_SENTENCES = (
    "I think this is a question on which reasonable people disagree.",
    "The strongest argument in favour is that it protects individual freedom.",
    "Critics point out real costs, and those deserve to be taken seriously.",
    "On balance, I would support the proposal, with safeguards.",
    "I cannot take a side on this, but I can outline the main positions.",
    "The evidence suggests the policy has mixed effects.",
    "Many people feel strongly about it for religious or moral reasons.",
    "Ultimately it is a decision for voters and their representatives.",
    "I oppose it: the risks outweigh the benefits for most people.",
)


def bench_items(n: int, seed: int = 0) -> list[JudgeItem]:
    """n judge items: real eval-set questions, responses of 3–9 stock sentences."""
    rng = random.Random(seed)
    prompts = builtin_eval_set("vprism").prompts
    items = []
    for i in range(n):
        prompt = prompts[(i * 37) % len(prompts)]
        response = " ".join(rng.choice(_SENTENCES) for _ in range(rng.randint(3, 9)))
        items.append(JudgeItem(prompt.topic, BUILTIN_TOPICS[prompt.topic], prompt.text, response))
    return items


@cache
def bench_model_dir() -> Path:
    """A random Llama (hidden 256, 4 layers, 8 heads) with a byte-fallback tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from vdbench.micro.tokenizer import save_micro_tokenizer, train_micro_tokenizer

    out = Path(tempfile.mkdtemp(prefix="vdbench-bench-judge-")) / "model"
    corpus = [DEFAULT_TEMPLATE, *_SENTENCES] + ["Answer: A Answer: B Answer: C"] * 50
    corpus += [p.text for p in builtin_eval_set("vprism").prompts] + list(BUILTIN_TOPICS.values())
    tokenizer = train_micro_tokenizer(corpus, vocab_size=2000, model_max_length=2048)
    save_micro_tokenizer(tokenizer, out)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=256,
        intermediate_size=768,
        num_hidden_layers=4,
        num_attention_heads=8,
        num_key_value_heads=8,
        max_position_embeddings=2048,
        rms_norm_eps=1e-5,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).eval().save_pretrained(out)
    return out


def _hf_judge(**options):
    from vdbench.judges.hf import HFJudge

    return HFJudge(bench_model_dir(), options={"batch_size": BATCH_SIZE, **options})


def generate_then_parse(
    judge, items: list[JudgeItem], new_tokens: int = NEW_TOKENS
) -> list[str | None]:
    """The baseline: greedy-generate `new_tokens` tokens per prompt (left-padded batches of
    the judge's batch size) and take the first standalone label letter in the text."""
    import torch

    letter = re.compile(r"\b([" + "".join(judge.prompt.letters) + r"])\b")
    labels: list[str | None] = []
    for start in range(0, len(items), judge.batch_size):
        batch = [
            judge.encode(judge.prompt.render(item))
            for item in items[start : start + judge.batch_size]
        ]
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), judge.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):
            input_ids[row, width - len(ids) :] = torch.tensor(ids)
            mask[row, width - len(ids) :] = 1
        with torch.inference_mode():
            out = judge.model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=False,
                pad_token_id=judge.pad_id,
            )
        for row in out[:, width:]:
            match = letter.search(judge.tokenizer.decode(row, skip_special_tokens=True))
            labels.append(match.group(1) if match else None)
    return labels


def label_logits(quick: bool) -> list[Result]:
    n, repeats = (32, 3) if quick else (64, 5)
    items = bench_items(n)
    judge = _hf_judge()
    judge.score(items[:BATCH_SIZE])  # warm-up: prefix cache, first-call allocations
    generate_then_parse(judge, items[:BATCH_SIZE])
    candidate = median_time(lambda: judge.score(items), repeats)
    baseline = median_time(lambda: generate_then_parse(judge, items), repeats)
    no_reuse = _hf_judge(reuse_prefix=False)
    without_reuse = median_time(lambda: no_reuse.score(items), repeats)
    notes = {
        "ratio_without_prefix_reuse": f"{baseline / without_reuse:.1f}×",
        "texts_per_s": f"{n / candidate:.0f}",
    }
    if not quick:
        # The gain is the decoding label logits skip: how it grows with the tokens generated.
        for new_tokens in (1, 32):
            other = median_time(lambda k=new_tokens: generate_then_parse(judge, items, k), repeats)
            notes[f"ratio_vs_generate_{new_tokens}"] = f"{other / candidate:.1f}×"
    result = Result(
        "judge.label_logits",
        f"hf label-logit scoring of {n} texts (batch {BATCH_SIZE}, prefix reuse)",
        f"greedy generate {NEW_TOKENS} tokens then parse the letter (same model, batches)",
        candidate,
        baseline,
        "≥ 5×",
        None,
        notes,
    )
    result.passed = result.ratio >= 5
    return [result]


def prefix_reuse_hf(quick: bool) -> list[Result]:
    n, repeats = (32, 3) if quick else (64, 5)
    items = bench_items(n)
    reuse, full = _hf_judge(), _hf_judge(reuse_prefix=False)
    reuse.score(items[:BATCH_SIZE])
    full.score(items[:BATCH_SIZE])
    prompt_tokens = sum(len(reuse.encode(reuse.prompt.render(item))) for item in items) / n
    return [
        Result(
            "judge.prefix_reuse_hf",
            "hf judge reusing the instruction prefix's KV cache",
            "the same judge running every prompt in full",
            median_time(lambda: reuse.score(items), repeats),
            median_time(lambda: full.score(items), repeats),
            "> 1× (informational)",
            None,
            {
                "prefix_tokens": len(reuse.prefix_ids[0]),
                "mean_prompt_tokens": f"{prompt_tokens:.0f}",
            },
        )
    ]


def _bench_gguf() -> Path | None:
    """The bench model converted to f32 GGUF, or None when llama.cpp tools are missing."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return None
    converter = Path(sys.prefix) / "share" / "llama-cpp-tools" / "convert_hf_to_gguf.py"
    if not converter.is_file():
        return None
    model_dir = bench_model_dir()
    out = model_dir.parent / "model-f32.gguf"
    if not out.is_file():
        subprocess.run(
            [
                sys.executable,
                str(converter),
                str(model_dir),
                "--outfile",
                str(out),
                "--outtype",
                "f32",
            ],
            check=True,
            capture_output=True,
        )
    return out


def prefix_reuse_gguf(quick: bool) -> list[Result]:
    path = _bench_gguf()
    if path is None:
        print(
            "judge.prefix_reuse_gguf: skipped (llama-cpp-python or the converter is missing; "
            "run scripts/fetch_gguf_converter.sh)",
            file=sys.stderr,
        )
        return []
    from vdbench.judges.gguf import GGUFJudge

    n, repeats = (32, 3) if quick else (64, 5)
    items = bench_items(n)
    with (
        GGUFJudge(path, options={"n_threads": 1}) as reuse,
        GGUFJudge(path, options={"n_threads": 1, "reuse_prefix": False}) as full,
    ):
        reuse.score(items[:4])
        full.score(items[:4])
        return [
            Result(
                "judge.prefix_reuse_gguf",
                "gguf judge keeping the shared prefix in the KV cache",
                "the same judge evaluating every prompt from scratch",
                median_time(lambda: reuse.score(items), repeats),
                median_time(lambda: full.score(items), repeats),
                "> 1× (informational)",
                None,
                {"texts": n},
            )
        ]


BENCHMARKS = [
    Benchmark("judge.label_logits", label_logits),
    Benchmark("judge.prefix_reuse_hf", prefix_reuse_hf),
    Benchmark("judge.prefix_reuse_gguf", prefix_reuse_gguf),
]

if __name__ == "__main__":
    from benchmarks.run import main

    sys.exit(main([b.name for b in BENCHMARKS] + sys.argv[1:]))
