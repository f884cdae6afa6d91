"""Build a V-PRISM-style eval set from any prompt pool (`vdbench prompts build`).

The recipe (docs/vprism_builder.md): read the pool, drop blank and duplicate prompts,
keep value-laden prompts (a documented embedding + lexical filter), embed them with
all-MiniLM-L6-v2, cluster into k topics with k-means, name each cluster by its most
distinctive TF-IDF terms (or by the built-in topic it matches), sample n prompts per
cluster with the seed, and write a JSONL/CSV file that `prompts import` accepts.

Same pool, options and seed on the same machine and library versions give a
byte-identical output file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from vdbench.errors import InputError
from vdbench.evalsets.loaders import read_rows
from vdbench.evalsets.topics import BUILTIN_TOPICS

# --- the value-ladenness filter --------------------------------------------------------
# score = mean of the ANCHOR_TOP_K highest cosine similarities to VALUE_ANCHORS
#       - mean of the ANCHOR_TOP_K highest cosine similarities to TASK_ANCHORS
#       + CUE_WEIGHT * min(number of distinct lexical cue groups matched, CUE_CAP)
# A prompt is kept when score >= min_value_score (DEFAULT_MIN_VALUE_SCORE unless given).

ANCHORS_FILE = Path(__file__).resolve().parents[1] / "data" / "builder" / "anchors.json"
_ANCHORS = json.loads(ANCHORS_FILE.read_text("utf-8"))
VALUE_ANCHORS: tuple[str, ...] = tuple(_ANCHORS["value_anchors"])
TASK_ANCHORS: tuple[str, ...] = tuple(_ANCHORS["task_anchors"])
# Each group counts once however many of its words a prompt contains.
VALUE_CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE)) for name, pattern in _ANCHORS["value_cues"].items()
)

ANCHOR_TOP_K = 3
CUE_WEIGHT = 0.04
CUE_CAP = 2
# Chosen on tests/data/prompt_pool.jsonl (250 value-laden, 150 task prompts): between the
# highest-scoring task prompt and the lowest-scoring value-laden one; see the docs.
DEFAULT_MIN_VALUE_SCORE = 0.10

# --- clustering and naming -------------------------------------------------------------
KMEANS_N_INIT = 10
N_TOP_TERMS = 5
SLUG_TERMS = 3
# A cluster takes a built-in topic's name and proposition when its centroid has at least
# BUILTIN_MATCH_MIN cosine similarity with the topic's description ("gun control: <its
# proposition>") and at least BUILTIN_AGREEMENT_MIN of its prompts are nearest that topic.
# On the test pool, pure theme clusters score 0.63-0.74 and 0.88-1.0; the off-list theme
# (AI and jobs) 0.30; clusters mixing two themes 0.54-0.63 but only ~0.5 agreement.
BUILTIN_MATCH_MIN = 0.45
BUILTIN_AGREEMENT_MIN = 0.6
DRAFT_PREFIX = "DRAFT — "

# Words that say a prompt asks for an opinion rather than what it is about; they would
# otherwise name clusters after question phrasing.
QUESTION_WORDS = frozenset(_ANCHORS["question_words"])

POOL_TEXT_SUFFIXES = {".txt"}
OUTPUT_SUFFIXES = {".jsonl", ".json", ".ndjson", ".csv"}


@dataclass(frozen=True)
class PoolPrompt:
    """One prompt read from the pool, with where it came from (file:line or row)."""

    text: str
    where: str


def read_pool(path: str | Path) -> tuple[list[PoolPrompt], int]:
    """(prompts, blank_count) from a JSONL/CSV/Parquet pool with a 'prompt' column or a .txt file.

    A .txt pool holds one prompt per line. Blank prompts are skipped and counted; a row
    without a 'prompt' column, or whose prompt is not text, is an InputError at file:line.
    """
    path = Path(path)
    prompts: list[PoolPrompt] = []
    blank = 0
    if path.suffix.lower() in POOL_TEXT_SUFFIXES:
        if not path.exists():
            raise InputError("file not found", where=str(path))
        with path.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                where = f"{path}:{lineno}"
                try:
                    line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    raise InputError(
                        f"line is not valid UTF-8 (byte {exc.start})",
                        where=where,
                        hint="re-save the file as UTF-8",
                    ) from None
                if line.strip():
                    prompts.append(PoolPrompt(line.strip(), where))
                else:
                    blank += 1
        return prompts, blank
    try:
        rows = read_rows(path)
    except InputError as exc:
        if exc.message.startswith("unknown eval-set file type"):
            raise InputError(
                f"unknown prompt-pool file type {path.suffix!r}",
                where=str(path),
                hint="use .jsonl, .csv, .parquet or .txt (one prompt per line)",
            ) from None
        raise
    for where, row in rows:
        if "prompt" not in row:
            columns = ", ".join(repr(k) for k in list(row)[:8]) or "none"
            raise InputError(
                f"missing required column 'prompt' (columns: {columns})",
                where=where,
                hint="each row needs a 'prompt' column; other columns are ignored",
            )
        value = row["prompt"]
        if value is None or (isinstance(value, str) and not value.strip()):
            blank += 1
            continue
        if not isinstance(value, str):
            raise InputError(
                f"column 'prompt' must be text, got {type(value).__name__}", where=where
            )
        prompts.append(PoolPrompt(value.strip(), where))
    return prompts, blank


def lexical_cues(text: str) -> list[str]:
    """Names of the VALUE_CUES groups that `text` matches, in VALUE_CUES order."""
    return [name for name, pattern in VALUE_CUES if pattern.search(text)]


def value_scores(
    texts: Sequence[str],
    embeddings: np.ndarray,
    value_anchors: np.ndarray,
    task_anchors: np.ndarray,
) -> np.ndarray:
    """Value-ladenness score per prompt (float64; higher is more value-laden).

    All embedding arrays are unit-length rows, so dot products are cosine similarities.
    The score is the top-k anchor similarity margin plus the capped lexical-cue bonus.
    """
    if len(texts) == 0:
        return np.zeros(0)
    k_value = min(ANCHOR_TOP_K, len(value_anchors))
    k_task = min(ANCHOR_TOP_K, len(task_anchors))
    sim_value = np.sort(embeddings @ value_anchors.T, axis=1)[:, -k_value:].mean(axis=1)
    sim_task = np.sort(embeddings @ task_anchors.T, axis=1)[:, -k_task:].mean(axis=1)
    cues = np.array([min(len(lexical_cues(t)), CUE_CAP) for t in texts], dtype=np.float64)
    return (sim_value - sim_task).astype(np.float64) + CUE_WEIGHT * cues


@lru_cache(maxsize=1)
def _reference_embeddings() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value anchors, task anchors, built-in topic descriptions), embedded once per process."""
    from vdbench.embedding import embed

    descriptions = [f"{name.replace('_', ' ')}: {prop}" for name, prop in BUILTIN_TOPICS.items()]
    return (
        embed(VALUE_ANCHORS).astype(np.float64),
        embed(TASK_ANCHORS).astype(np.float64),
        embed(descriptions).astype(np.float64),
    )


def anchor_scores(texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
    """The `anchors` filter's scores for texts already embedded (unit rows)."""
    value_anchors, task_anchors, _ = _reference_embeddings()
    return value_scores(texts, embeddings, value_anchors, task_anchors)


def score_prompts(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """`anchors` scores for raw texts (embeds them with MiniLM; see value_scores)."""
    from vdbench.embedding import embed

    return anchor_scores(texts, embed(texts, batch_size).astype(np.float64))


def cluster_top_terms(
    texts: Sequence[str], labels: np.ndarray, n_clusters: int, n_terms: int = N_TOP_TERMS
) -> list[list[str]]:
    """The `n_terms` most distinctive words of each cluster by class-based TF-IDF.

    Each cluster's prompts are joined into one document and TF-IDF is fitted over the
    `n_clusters` documents, so a word common to every cluster scores low. Ties break
    alphabetically. A cluster with no usable words gets an empty list.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    documents = [
        " ".join(t for t, lab in zip(texts, labels, strict=True) if lab == c)
        for c in range(n_clusters)
    ]
    vectorizer = TfidfVectorizer(
        lowercase=True,
        token_pattern=r"(?u)\b[a-z][a-z]+\b",
        sublinear_tf=True,
        stop_words=sorted(ENGLISH_STOP_WORDS | QUESTION_WORDS),
    )
    try:
        matrix = vectorizer.fit_transform(documents).toarray()
    except ValueError:  # no word survives the stop list in any cluster
        return [[] for _ in range(n_clusters)]
    vocab = vectorizer.get_feature_names_out()
    terms: list[list[str]] = []
    for row in matrix:
        order = np.lexsort((vocab, -row))  # score descending, then alphabetical
        terms.append([str(vocab[i]) for i in order[:n_terms] if row[i] > 0])
    return terms


def unique_slugs(terms: list[list[str]], taken: set[str], n_terms: int = SLUG_TERMS) -> list[str]:
    """A unique `word-word-word` name per cluster, avoiding names in `taken`.

    On a clash the slug grows by the cluster's next term, then gains a numeric suffix.
    """
    used = set(taken)
    slugs: list[str] = []
    for cluster_terms in terms:
        words = cluster_terms or ["topic"]
        count = min(n_terms, len(words))
        slug = "-".join(words[:count])
        while slug in used and count < len(words):
            count += 1
            slug = "-".join(words[:count])
        base, suffix = slug, 2
        while slug in used:
            slug, suffix = f"{base}-{suffix}", suffix + 1
        used.add(slug)
        slugs.append(slug)
    return slugs


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0, 1.0, norms)


def match_builtin_topics(
    cluster_embeddings: Sequence[np.ndarray],
    topic_embeddings: np.ndarray,
    min_similarity: float = BUILTIN_MATCH_MIN,
    min_agreement: float = BUILTIN_AGREEMENT_MIN,
) -> dict[int, tuple[int, float]]:
    """Cluster index → (built-in topic index, centroid cosine) for a one-to-one matching.

    `cluster_embeddings[c]` holds cluster c's unit-length prompt embeddings. The assignment
    maximises total centroid similarity (Hungarian). A pair is kept only if the centroid
    similarity is at least `min_similarity` and at least `min_agreement` of the cluster's
    prompts have that topic as their own nearest built-in topic, so a cluster mixing two
    themes (whose centroid can still sit near one of them) stays unmatched.
    """
    from scipy.optimize import linear_sum_assignment

    if len(cluster_embeddings) == 0 or len(topic_embeddings) == 0:
        return {}
    centroids = _unit(np.stack([e.mean(axis=0) for e in cluster_embeddings]))
    similarity = centroids @ topic_embeddings.T
    rows, cols = linear_sum_assignment(-similarity)
    matches: dict[int, tuple[int, float]] = {}
    for r, c in zip(rows, cols, strict=True):
        nearest = np.argmax(cluster_embeddings[r] @ topic_embeddings.T, axis=1)
        agreement = float(np.mean(nearest == c))
        if similarity[r, c] >= min_similarity and agreement >= min_agreement:
            matches[int(r)] = (int(c), float(similarity[r, c]))
    return matches


def _check_output(output: Path, input_path: Path) -> None:
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError(
            f"cannot write an eval set as {output.suffix or 'a file without suffix'!r}",
            where=str(output),
            hint="name the output .jsonl or .csv",
        )
    if output.exists() and input_path.exists() and output.resolve() == input_path.resolve():
        raise InputError(
            "the output would overwrite the input pool",
            where=str(output),
            hint="choose a different --output",
        )


def _render(records: list[dict[str, str]], csv_format: bool) -> str:
    if not csv_format:
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_propositions(path: str | Path) -> dict[str, dict[str, str]]:
    """`--propositions FILE` (JSON or TOML): cluster name → proposition, or → a table with
    ``proposition`` and optionally ``topic`` (a new name for the cluster)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("propositions file not found" if not path.exists() else
                         "propositions file is a directory", where=str(path))
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            data = tomllib.loads(path.read_text("utf-8"))
        else:
            data = json.loads(path.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError and TOMLDecodeError
        raise InputError(f"cannot parse the propositions file: {exc}", where=str(path)) from None
    if not isinstance(data, dict):
        raise InputError("the propositions file must map cluster names to propositions",
                         where=str(path), hint='e.g. {"vaccine-mandate-jobs": "Vaccine mandates '
                         'are justified."}')
    out: dict[str, dict[str, str]] = {}
    for name, value in data.items():
        entry = {"proposition": value} if isinstance(value, str) else value
        if not isinstance(entry, dict) or not isinstance(entry.get("proposition"), str) \
                or not entry["proposition"].strip() or not isinstance(entry.get("topic", name), str):
            raise InputError(f"cluster {name!r}: give a non-empty proposition string (or a table "
                             "with 'proposition' and an optional new 'topic' name)", where=str(path))
        unknown = sorted(set(entry) - {"proposition", "topic"})
        if unknown:
            raise InputError(f"cluster {name!r}: unknown key(s) {unknown}", where=str(path),
                             hint="only 'proposition' and 'topic'")
        out[str(name)] = {"proposition": entry["proposition"].strip(),
                          "topic": str(entry.get("topic", name)).strip()}
    return out


def _decisions_path(output: Path) -> Path:
    """Where every pool prompt's filter decision goes: OUTPUT with .filter.jsonl."""
    return output.with_name(output.stem + ".filter.jsonl")


def build_vprism(
    input_path: str | Path,
    output_path: str | Path,
    *,
    n_topics: int = 11,
    per_topic: int = 50,
    seed: int = 0,
    filter: str = "local",
    threshold: float | None = None,
    min_value_score: float | None = None,
    propositions: str | Path | None = None,
    n_examples: int = 2,
    consent: Any = None,
) -> dict[str, Any]:
    """Run the V-PRISM recipe on a prompt pool and write an importable eval set.

    `filter` is ``local`` (the intent classifier), ``anchors`` (the embedding + lexical
    score) or a judge name (an LLM filter; vdbench.evalsets.value_filter); `threshold`
    overrides its default; `min_value_score` is the older name of the anchors threshold.
    `propositions` maps cluster names to the propositions the user confirmed.

    Returns a report: pool (prompts read), blank, duplicates, kept (value questions),
    dropped, kept_share, written, filter, threshold, seed, output, decisions (the file with
    every prompt's score and decision), topics=[{topic, n_prompts, cluster_size, share,
    top_terms, central_prompt, examples, proposition, proposition_draft,
    proposition_source, builtin_similarity, short}], warnings. A cluster smaller than
    `per_topic` is written whole and flagged `short`. Nothing is written if any step fails.
    """
    from sklearn.cluster import KMeans

    from vdbench.embedding import embed
    from vdbench.evalsets.value_filter import check_threshold, resolve_filter, score_pool

    input_path, output_path = Path(input_path), Path(output_path)
    if n_topics < 1:
        raise InputError(f"--topics must be at least 1, got {n_topics}")
    if per_topic < 1:
        raise InputError(f"--per-topic must be at least 1, got {per_topic}")
    if min_value_score is not None:
        if filter != "anchors" or threshold is not None:
            raise InputError("--min-value-score is the anchors filter's threshold",
                             hint="use --filter anchors --threshold T (or --threshold alone for "
                             "the filter you chose)")
        threshold = float(min_value_score)
    filter = resolve_filter(filter)
    check_threshold(filter, threshold)
    _check_output(output_path, input_path)
    confirmed = read_propositions(propositions) if propositions is not None else {}

    pool, blank = read_pool(input_path)
    if not pool:
        raise InputError(
            "the prompt pool holds no prompts",
            where=str(input_path),
            hint="each row needs a non-empty 'prompt'",
        )
    seen: set[str] = set()
    unique: list[PoolPrompt] = []
    for item in pool:
        key = " ".join(item.text.split()).casefold()
        if key not in seen:
            seen.add(key)
            unique.append(item)

    texts = [p.text for p in unique]
    embeddings = embed(texts).astype(np.float64)
    _, _, builtin_emb = _reference_embeddings()
    filtered = score_pool(filter, texts, embeddings, threshold, consent=consent)
    scores, threshold = filtered.scores, filtered.threshold
    kept_idx = np.flatnonzero(filtered.kept)
    if len(kept_idx) == 0:
        raise InputError(
            f"no prompt of the {len(texts)} in the pool asks for a view on a contested value "
            f"question (filter {filter}: every score is below {threshold:g}; the highest is "
            f"{scores.max():.3f}); nothing was written",
            where=str(input_path),
            hint="a pool of requests and tasks has no V-PRISM topics; if you expected some, "
            "check the prompts or lower --threshold",
        )
    if len(kept_idx) < n_topics:
        raise InputError(
            f"only {len(kept_idx)} of {len(texts)} prompts ask for a view on a value question "
            f"(filter {filter}, score >= {threshold:g}); cannot form {n_topics} topics; nothing "
            "was written",
            where=str(input_path),
            hint=f"lower --topics to at most {len(kept_idx)}, or lower --threshold (scores range "
            f"{scores.min():.3f} to {scores.max():.3f})",
        )
    kept_texts = [texts[i] for i in kept_idx]
    kept_emb = embeddings[kept_idx]

    kmeans = KMeans(n_clusters=n_topics, n_init=KMEANS_N_INIT, random_state=seed)
    raw_labels = kmeans.fit_predict(kept_emb)
    # Canonical cluster order (largest first, then earliest prompt in the pool) so names,
    # sampling and file order do not depend on k-means' arbitrary label numbers.
    sizes = np.bincount(raw_labels, minlength=n_topics)
    first = [
        int(np.flatnonzero(raw_labels == c)[0]) if sizes[c] else len(raw_labels)
        for c in range(n_topics)
    ]
    order = sorted(range(n_topics), key=lambda c: (-sizes[c], first[c]))
    relabel = np.empty(n_topics, dtype=int)
    relabel[order] = np.arange(n_topics)
    labels = relabel[raw_labels]
    # k-means can leave a cluster empty when the pool holds near-identical prompts; the
    # canonical order puts empty clusters last, so the first n_found are the real ones.
    n_found = int(np.count_nonzero(sizes))
    members = [np.flatnonzero(labels == c) for c in range(n_found)]
    centroids = _unit(np.stack([kept_emb[m].mean(axis=0) for m in members]))

    terms = cluster_top_terms(kept_texts, labels, n_found)
    builtin_names = list(BUILTIN_TOPICS)
    matches = match_builtin_topics([kept_emb[m] for m in members], builtin_emb)
    slugs = unique_slugs(terms, taken=set(BUILTIN_TOPICS))
    names = [builtin_names[matches[c][0]] if c in matches else slugs[c] for c in range(n_found)]
    unknown = sorted(set(confirmed) - set(names))
    if unknown:
        raise InputError(
            f"the propositions file names cluster(s) this build does not have: {', '.join(unknown)}; "
            "nothing was written",
            where=str(propositions),
            hint=f"this build's clusters: {', '.join(names)} (same pool, options and seed give the "
            "same names)",
        )
    renamed = [confirmed.get(n, {}).get("topic", n) for n in names]
    clash = sorted({n for n in renamed if renamed.count(n) > 1})
    if clash:
        raise InputError(f"the propositions file gives two clusters the topic name {clash[0]!r}",
                         where=str(propositions))

    records: list[dict[str, Any]] = []
    topics_report: list[dict[str, Any]] = []
    warnings: list[str] = []
    topic_of_kept: dict[int, str] = {}
    written_kept: set[int] = set()
    if n_found < n_topics:
        warnings.append(
            f"k-means found only {n_found} distinct clusters of the {n_topics} "
            "asked for; the pool has too few distinct value-laden prompts"
        )
    for c in range(n_found):
        cluster = members[c]
        centrality = kept_emb[cluster] @ centroids[c]
        by_centrality = cluster[np.lexsort((cluster, -centrality))]
        central = kept_texts[int(by_centrality[0])]
        topic = renamed[c]
        if names[c] in confirmed:
            proposition, draft, source = confirmed[names[c]]["proposition"], False, "confirmed"
            similarity = matches[c][1] if c in matches else None
        elif c in matches:
            builtin_index, similarity = matches[c]
            proposition, draft, source = BUILTIN_TOPICS[builtin_names[builtin_index]], False, "builtin"
        else:
            similarity = None
            proposition, draft, source = DRAFT_PREFIX + central, True, "draft"
        if len(cluster) > per_topic:
            rng = np.random.default_rng([seed, c])
            chosen = np.sort(rng.choice(cluster, size=per_topic, replace=False))
        else:
            chosen = cluster
        short = len(cluster) < per_topic
        if short:
            warnings.append(
                f"topic {topic!r}: cluster holds {len(cluster)} prompts, "
                f"fewer than --per-topic {per_topic}; all were taken"
            )
        for i in cluster:
            topic_of_kept[int(i)] = topic
        written_kept.update(int(i) for i in chosen)
        for n, i in enumerate(chosen, start=1):
            records.append(
                {
                    "prompt_id": f"{topic}-{n:03d}",
                    "topic": topic,
                    "proposition": proposition,
                    "prompt": kept_texts[int(i)],
                    "framing": "open",
                    "value_score": round(float(scores[kept_idx[int(i)]]), 4),
                }
            )
        topics_report.append(
            {
                "topic": topic,
                "cluster": names[c],
                "n_prompts": len(chosen),
                "cluster_size": len(cluster),
                "share": round(len(cluster) / len(kept_idx), 4),
                "top_terms": terms[c],
                "central_prompt": central,
                "examples": [kept_texts[int(i)] for i in by_centrality[:n_examples]],
                "proposition": proposition,
                "proposition_draft": draft,
                "proposition_source": source,
                "builtin_similarity": None if similarity is None else round(similarity, 4),
                "short": short,
            }
        )
    if any(t["proposition_draft"] for t in topics_report):
        drafts = [t["cluster"] for t in topics_report if t["proposition_draft"]]
        warnings.append(
            f"{len(drafts)} proposition(s) are drafts (prefixed 'DRAFT — ', the cluster's most "
            f"central prompt): confirm each with --propositions FILE mapping {', '.join(drafts)} "
            "to the statement stance is measured toward"
        )

    decisions = _decisions(unique, scores, filtered, kept_idx, topic_of_kept, written_kept)
    decisions_path = _decisions_path(output_path)
    _write_atomically(decisions_path, "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in decisions))
    _write_atomically(output_path, _render(records, output_path.suffix.lower() == ".csv"))
    return {
        "pool": len(pool),
        "blank": blank,
        "duplicates": len(pool) - len(unique),
        "kept": len(kept_idx),
        "dropped": len(unique) - len(kept_idx),
        "kept_share": round(len(kept_idx) / len(unique), 4),
        "written": len(records),
        "filter": filter,
        "filter_judge": filtered.judge_id,
        "threshold": threshold,
        "min_value_score": threshold if filter == "anchors" else None,
        "seed": seed,
        "output": str(output_path),
        "decisions": str(decisions_path),
        "topics": topics_report,
        "warnings": warnings,
    }


def _decisions(unique: list[PoolPrompt], scores: np.ndarray, filtered: Any, kept_idx: np.ndarray,
               topic_of_kept: dict[int, str], written_kept: set[int]) -> list[dict[str, Any]]:
    """One row per distinct pool prompt: where it was read, its score and what became of it."""
    position = {int(i): k for k, i in enumerate(kept_idx)}
    rows = []
    for i, item in enumerate(unique):
        k = position.get(i)
        row: dict[str, Any] = {"where": item.where, "prompt": item.text,
                               "score": round(float(scores[i]), 4),
                               "decision": "kept" if k is not None else "dropped"}
        if filtered.probs is not None:
            row["probs"] = {c: round(float(p), 4) for c, p in
                            zip(("value", "help", "harmful"), filtered.probs[i], strict=True)}
        if k is not None:
            row["topic"] = topic_of_kept.get(k)
            row["written"] = k in written_kept
        rows.append(row)
    return rows
