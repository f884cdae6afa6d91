"""`vdbench prompts build`: the V-PRISM recipe on a prompt pool (vdbench/evalsets/builder.py).

tests/data/prompt_pool.jsonl holds 250 value-laden prompts in five themes (guns,
immigration, climate, religion, AI and jobs; 50 each) and 150 task prompts (code,
recipes, maths, trivia, writing chores). Its `theme` column is the ground truth; the
builder reads only `prompt`.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from vdbench.errors import InputError  # noqa: E402
from vdbench.evalsets import builder  # noqa: E402
from vdbench.evalsets.loaders import load_eval_file  # noqa: E402
from vdbench.evalsets.topics import BUILTIN_TOPICS  # noqa: E402

POOL = Path(__file__).parent / "data" / "prompt_pool.jsonl"
THEMES = ("guns", "immigration", "climate", "religion", "ai_jobs")
THEME_TO_BUILTIN = {
    "guns": "gun_control",
    "immigration": "immigration",
    "climate": "climate_change",
    "religion": "religion",
}


def pool_rows() -> list[dict[str, str]]:
    return [json.loads(line) for line in POOL.read_text(encoding="utf-8").splitlines()]


THEME_OF = {row["prompt"]: row["theme"] for row in pool_rows()}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """MiniLM on one thread: fast enough for 400 prompts and the same floats every run."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[dict, Path]:
    """The test pool built into 5 topics; per_topic 50 >= every cluster, so all kept prompts are written."""
    out = tmp_path_factory.mktemp("built") / "vprism5.jsonl"
    report = builder.build_vprism(POOL, out, n_topics=5, per_topic=50, seed=0)
    return report, out


def written(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def small_pool(directory: Path, take: dict[str, int]) -> Path:
    """A JSONL pool with the first `take[theme]` prompts of each theme of the test pool."""
    rows = []
    for theme, n in take.items():
        rows += [r for r in pool_rows() if r["theme"] == theme][:n]
    path = directory / "small.jsonl"
    path.write_text(
        "".join(json.dumps({"prompt": r["prompt"]}) + "\n" for r in rows), encoding="utf-8"
    )
    return path


# --- the whole recipe on the test pool ---------------------------------------------------


def test_filter_keeps_value_laden_prompts_and_drops_tasks(built):
    report, out = built
    assert all(t["n_prompts"] == t["cluster_size"] for t in report["topics"])
    themes = Counter(THEME_OF[row["prompt"]] for row in written(out))
    value_kept = sum(n for theme, n in themes.items() if theme != "task")
    assert value_kept / 250 >= 0.95  # recall of value-laden prompts
    assert themes["task"] / 150 <= 0.03  # task prompts let through
    assert report["pool"] == 400 and report["kept"] == value_kept + themes["task"]
    assert report["kept"] + report["dropped"] == 400


def test_five_clusters_recover_the_five_themes(built):
    report, out = built
    by_topic: dict[str, Counter] = {}
    for row in written(out):
        by_topic.setdefault(row["topic"], Counter())[THEME_OF[row["prompt"]]] += 1
    assert len(by_topic) == 5
    majority = {topic: counts.most_common(1)[0] for topic, counts in by_topic.items()}
    purity = sum(n for _, n in majority.values()) / sum(sum(c.values()) for c in by_topic.values())
    assert purity >= 0.8
    assert sorted(theme for theme, _ in majority.values()) == sorted(THEMES)
    # Four themes are built-in V-PRISM topics and keep their name and proposition.
    for topic, (theme, _) in majority.items():
        if theme in THEME_TO_BUILTIN:
            assert topic == THEME_TO_BUILTIN[theme]


def test_cluster_off_the_builtin_list_gets_terms_slug_and_draft_proposition(built):
    report, _ = built
    (ai_topic,) = [t for t in report["topics"] if t["topic"] not in BUILTIN_TOPICS]
    assert ai_topic["proposition_draft"] is True
    assert ai_topic["proposition"].startswith(builder.DRAFT_PREFIX)
    assert "ai" in ai_topic["topic"].split("-")
    assert ai_topic["topic"] == "-".join(ai_topic["top_terms"][: builder.SLUG_TERMS])
    assert any("DRAFT" in w for w in report["warnings"])
    for t in report["topics"]:
        if t["topic"] in BUILTIN_TOPICS:
            assert t["proposition"] == BUILTIN_TOPICS[t["topic"]] and not t["proposition_draft"]


def test_output_loads_as_an_eval_set(built):
    report, out = built
    evalset = load_eval_file(out)
    assert len(evalset.prompts) == report["written"]
    assert set(evalset.topics) == {t["topic"] for t in report["topics"]}
    assert {p.framing for p in evalset.prompts} == {"open"}
    assert len({p.prompt_id for p in evalset.prompts}) == len(evalset.prompts)
    for t in report["topics"]:
        assert evalset.topics[t["topic"]] == t["proposition"]
        assert len(evalset.by_topic()[t["topic"]]) == t["n_prompts"]


def test_clusters_smaller_than_per_topic_are_taken_whole_and_flagged(built):
    report, _ = built
    for t in report["topics"]:
        assert t["short"] == (t["cluster_size"] < 50)
    n_short = sum(t["short"] for t in report["topics"])
    assert n_short >= 1
    assert sum("fewer than --per-topic 50" in w for w in report["warnings"]) == n_short


# --- sampling and the command line, on a small pool ----------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict, Path]:
    """35 gun and 35 religion prompts plus 10 tasks, built into 2 topics × 12, seed 3."""
    tmp = tmp_path_factory.mktemp("small")
    pool = small_pool(tmp, {"guns": 35, "religion": 35, "task": 10})
    out = tmp / "seed3.jsonl"
    report = builder.build_vprism(pool, out, n_topics=2, per_topic=12, seed=3)
    return pool, report, out


def test_sampling_takes_per_topic_prompts_and_the_seed_picks_them(small, tmp_path):
    pool, report, out = small
    assert report["written"] == 24 and [t["n_prompts"] for t in report["topics"]] == [12, 12]
    assert [t["cluster_size"] for t in report["topics"]] == [35, 35]
    assert not any(t["short"] for t in report["topics"])
    other_out = tmp_path / "seed4.jsonl"
    other = builder.build_vprism(pool, other_out, n_topics=2, per_topic=12, seed=4)
    assert [t["topic"] for t in other["topics"]] == [t["topic"] for t in report["topics"]]
    assert {r["prompt"] for r in written(out)} != {r["prompt"] for r in written(other_out)}


def test_cli_build_with_the_same_seed_writes_identical_bytes(small, tmp_path, capsys):
    from vdbench.cli import main

    pool, report, out = small
    again = tmp_path / "again.jsonl"
    rc = main(
        [
            "prompts",
            "build",
            "--input",
            str(pool),
            "--topics",
            "2",
            "--per-topic",
            "12",
            "--output",
            str(again),
            "--seed",
            "3",
            "--json",
        ]
    )
    assert rc == 0
    assert again.read_bytes() == out.read_bytes()
    cli_report = json.loads(capsys.readouterr().out)
    assert cli_report["topics"] == report["topics"]
    assert {t["topic"] for t in cli_report["topics"]} == {"gun_control", "religion"}


def test_cli_reports_a_bad_pool_row_with_file_and_line(tmp_path, capsys):
    from vdbench.cli import main

    pool = tmp_path / "pool.jsonl"
    pool.write_text(
        '{"prompt": "Should guns be banned?"}\n{"question": "oops"}\n', encoding="utf-8"
    )
    rc = main(
        [
            "prompts",
            "build",
            "--input",
            str(pool),
            "--topics",
            "1",
            "--output",
            str(tmp_path / "out.jsonl"),
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert f"{pool}:2" in err and "'prompt'" in err and "Traceback" not in err
    assert not (tmp_path / "out.jsonl").exists()


def test_duplicates_and_blank_prompts_are_dropped_and_counted(tmp_path):
    rows = [r["prompt"] for r in pool_rows() if r["theme"] == "guns"][:20]
    pool = tmp_path / "dup.csv"
    lines = ["prompt,source"] + [f'"{p}",a' for p in rows] + [f'"  {rows[0].upper()} ",b', '"",c']
    pool.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = builder.build_vprism(pool, tmp_path / "o.csv", n_topics=1, per_topic=50)
    assert (report["pool"], report["duplicates"], report["blank"]) == (21, 1, 1)
    assert report["written"] == report["kept"] == 20
    assert len(load_eval_file(tmp_path / "o.csv").prompts) == 20


# --- bad input -----------------------------------------------------------------------------


def test_row_without_prompt_column_names_file_and_line(tmp_path):
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"prompt": "Should guns be banned?"}\n\n{"text": "oops"}\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        builder.build_vprism(pool, tmp_path / "out.jsonl", n_topics=1)
    assert err.value.where == f"{pool}:3"
    assert "'prompt'" in err.value.message and "'text'" in err.value.message
    assert not (tmp_path / "out.jsonl").exists()


def test_csv_without_prompt_column_names_the_first_data_line(tmp_path):
    pool = tmp_path / "pool.csv"
    pool.write_text("question\nShould guns be banned?\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        builder.read_pool(pool)
    assert err.value.where == f"{pool}:2"


def test_prompt_that_is_not_text_is_an_error(tmp_path):
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"prompt": 42}\n', encoding="utf-8")
    with pytest.raises(InputError, match="must be text") as err:
        builder.read_pool(pool)
    assert err.value.where == f"{pool}:1"


def test_txt_pool_skips_blank_lines_and_keeps_line_numbers(tmp_path):
    pool = tmp_path / "pool.txt"
    pool.write_text("first prompt\n\n  second prompt  \n", encoding="utf-8")
    prompts, blank = builder.read_pool(pool)
    assert [(p.text, p.where) for p in prompts] == [
        ("first prompt", f"{pool}:1"),
        ("second prompt", f"{pool}:3"),
    ]
    assert blank == 1


@pytest.mark.parametrize(
    ("kwargs", "output", "message"),
    [
        ({"n_topics": 0}, "out.jsonl", "--topics"),
        ({"per_topic": 0}, "out.jsonl", "--per-topic"),
        ({}, "out.parquet", "cannot write"),
    ],
)
def test_bad_options_are_refused_before_any_work(tmp_path, kwargs, output, message):
    with pytest.raises(InputError, match=message):
        builder.build_vprism(tmp_path / "missing.jsonl", tmp_path / output, **kwargs)


def test_too_few_value_laden_prompts_for_the_topics_asked(tmp_path):
    pool = small_pool(tmp_path, {"task": 12, "guns": 2})
    with pytest.raises(InputError, match="cannot form 3 topics") as err:
        builder.build_vprism(pool, tmp_path / "out.jsonl", n_topics=3)
    assert "--threshold" in (err.value.hint or "")


# --- the pure parts ------------------------------------------------------------------------


def test_lexical_cues_count_each_group_once():
    assert builder.lexical_cues("Should we ban it? Should we?") == ["should", "policy"]
    assert builder.lexical_cues("Is it morally justified and fair?") == ["moral", "right_wrong"]
    assert builder.lexical_cues("Write a Python function that reverses a string.") == []


def test_value_score_is_anchor_margin_plus_capped_cue_bonus():
    value_anchors = np.array([[1.0, 0.0], [0.8, 0.6]])
    task_anchors = np.array([[0.0, 1.0]])
    prompts = np.array([[1.0, 0.0], [0.0, 1.0]])
    scores = builder.value_scores(
        ["Is it moral? Should we? Is it fair?", "Sort this list."],
        prompts,
        value_anchors,
        task_anchors,
    )
    # top-2 mean over value anchors: (1 + 0.8) / 2 = 0.9; task: 0 -> margin 0.9 + 2 cues (cap 2)
    assert scores[0] == pytest.approx(0.9 + builder.CUE_WEIGHT * builder.CUE_CAP)
    # (0 + 0.6) / 2 - 1 = -0.7, no cues
    assert scores[1] == pytest.approx(-0.7)


def test_cluster_terms_prefer_words_distinctive_for_the_cluster():
    texts = [
        "opinion on gun rifles",
        "opinion on gun permits",
        "opinion on carbon taxes",
        "opinion on carbon coal",
    ]
    terms = builder.cluster_top_terms(texts, np.array([0, 0, 1, 1]), 2, n_terms=2)
    assert terms == [["gun", "permits"], ["carbon", "coal"]]


def test_slugs_are_unique_and_never_a_builtin_topic_name():
    terms = [
        ["gun", "control", "rifles"],
        ["gun", "control", "rifles", "ammo"],
        ["religion"],
        ["gun", "control", "rifles"],
        [],
    ]
    slugs = builder.unique_slugs(terms, taken={"religion"})
    assert slugs == [
        "gun-control-rifles",
        "gun-control-rifles-ammo",
        "religion-2",
        "gun-control-rifles-2",
        "topic",
    ]


def test_builtin_match_requires_similarity_and_member_agreement():
    topics = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    pure = np.array([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0]])
    mixed = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.9, 0.0, 0.1]])  # centroid near topic 0
    far = np.array([[0.0, 0.0, 1.0]])
    unit = [x / np.linalg.norm(x, axis=1, keepdims=True) for x in (pure, mixed, far)]
    assert builder.match_builtin_topics(unit[:1], topics)[0][0] == 0
    assert 0 not in builder.match_builtin_topics([unit[1]], topics, min_agreement=0.7)
    assert builder.match_builtin_topics([unit[2]], topics) == {}
