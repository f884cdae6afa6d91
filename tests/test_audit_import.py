"""Importing preference data: formats, sources, bad input, and nothing half-written."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vdbench.audit.formats import (
    RowError,
    parse_hh_rlhf,
    parse_trl,
    parse_ultrafeedback,
    topic_text,
)
from vdbench.audit.importer import import_pairs
from vdbench.cli import main
from vdbench.store import Store

DATA = Path(__file__).parent / "data" / "audit"
IMPORT_ONLY = ["--no-topics", "--no-judge", "--quiet"]


def stored_counts(db: Path) -> tuple[int, int]:
    """(pref_datasets rows, pref_pairs rows); (0, 0) if the store was never created."""
    if not db.exists():
        return 0, 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        return (
            con.execute("SELECT count(*) FROM pref_datasets").fetchone()[0],
            con.execute("SELECT count(*) FROM pref_pairs").fetchone()[0],
        )
    finally:
        con.close()


def audit(db: Path, path: Path, fmt: str, *extra: str) -> int:
    return main(
        ["audit", "--input", str(path), "--format", fmt, "--db", str(db), *IMPORT_ONLY, *extra]
    )


def audit_json(db: Path, path: Path, fmt: str, capsys, *extra: str) -> dict:
    assert audit(db, path, fmt, "--json", *extra) == 0
    return json.loads(capsys.readouterr().out)


# --- formats -------------------------------------------------------------------------------


def test_hh_transcript_splits_shared_prompt_and_final_turns():
    row = json.loads((DATA / "hh_small.jsonl").read_text().splitlines()[1])
    pair = parse_hh_rlhf(row)
    assert pair.prompt.startswith("Human: What's a good pasta recipe?")
    assert pair.prompt.endswith("Human: Thanks! Any vegetarian options?")
    assert "Assistant: Try garlic" in pair.prompt
    assert pair.chosen == "Add spinach and cherry tomatoes."
    assert pair.rejected == "Just eat bread."
    assert pair.flags == ()
    assert topic_text(pair.prompt) == "What's a good pasta recipe?\nThanks! Any vegetarian options?"


def test_hh_prompt_mismatch_is_flagged_and_no_assistant_turn_is_a_bad_row():
    mismatch = json.loads((DATA / "hh_small.jsonl").read_text().splitlines()[2])
    assert parse_hh_rlhf(mismatch).flags == ("prompt-mismatch",)
    with pytest.raises(RowError, match="no '\\\\n\\\\nAssistant:' turn"):
        parse_hh_rlhf({"chosen": "\n\nHuman: hi", "rejected": "\n\nHuman: hi\n\nAssistant: yo"})
    with pytest.raises(RowError, match="ends with a Human turn"):
        parse_hh_rlhf(
            {
                "chosen": "\n\nHuman: a\n\nAssistant: b\n\nHuman: c",
                "rejected": "\n\nHuman: a\n\nAssistant: b",
            }
        )


def test_ultrafeedback_message_lists_with_scores_and_derived_prompt():
    rows = [
        json.loads(line) for line in (DATA / "ultrafeedback_small.jsonl").read_text().splitlines()
    ]
    first, second = parse_ultrafeedback(rows[0]), parse_ultrafeedback(rows[1])
    assert first.prompt == "Should recreational drug use be decriminalised?"
    assert first.chosen.startswith("Yes: treat drug use")
    assert (first.score_chosen, first.score_rejected) == (8.5, 3.0)
    assert second.prompt == "Is climate action urgent?"  # from the messages before the answer
    assert second.score_chosen is None
    with pytest.raises(RowError, match="must be a number"):
        parse_ultrafeedback(rows[0] | {"score_chosen": "high"})
    with pytest.raises(RowError, match="does not end with an assistant message"):
        parse_ultrafeedback(rows[0] | {"rejected": [{"role": "user", "content": "x"}]})


def test_trl_standard_explicit_and_implicit_conversational():
    rows = [json.loads(line) for line in (DATA / "trl_mixed.jsonl").read_text().splitlines()]
    pairs = [parse_trl(r) for r in rows]
    assert pairs[0].prompt == "Should same-sex couples have equal rights?"
    assert pairs[1].prompt == "Is religion good for public life?"
    assert pairs[1].chosen == "Faith communities build strong local communities."
    assert pairs[2].prompt == "Should euthanasia be legal?"  # implicit: shared prefix
    with pytest.raises(RowError, match="lacks 'prompt'"):
        parse_trl({"chosen": "a", "rejected": "b"})
    with pytest.raises(RowError, match="both be strings or both message lists"):
        parse_trl(
            {"prompt": "q", "chosen": "a", "rejected": [{"role": "assistant", "content": "b"}]}
        )


# --- sources ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt,file,n",
    [
        ("hh-rlhf", "hh_small.jsonl", 3),
        ("ultrafeedback", "ultrafeedback_small.jsonl", 2),
        ("trl", "trl_mixed.jsonl", 3),
    ],
)
def test_each_format_imports_from_jsonl(db, capsys, fmt, file, n):
    report = audit_json(db, DATA / file, fmt, capsys)
    assert report["dataset"]["n_pairs"] == n and report["dataset"]["n_skipped"] == 0
    assert report["topics"]["unassigned"] == n and report["gap"] is None
    assert stored_counts(db) == (1, n)


def test_gzip_parquet_and_saved_dataset_give_the_same_pairs(db, tmp_path):
    rows = [
        json.loads(line) for line in (DATA / "ultrafeedback_small.jsonl").read_text().splitlines()
    ]
    rows = [
        r
        | {
            "prompt": r.get("prompt", "Is climate action urgent?"),
            "score_chosen": r.get("score_chosen"),
            "score_rejected": r.get("score_rejected"),
        }
        for r in rows
    ]
    gz = tmp_path / "uf.jsonl.gz"
    gz.write_bytes(gzip.compress((DATA / "ultrafeedback_small.jsonl").read_bytes()))
    parquet = tmp_path / "uf.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet, row_group_size=1)
    import datasets

    saved = tmp_path / "uf_saved"
    datasets.Dataset.from_list(rows).save_to_disk(str(saved))

    store = Store(db)
    got = {}
    for path in (DATA / "ultrafeedback_small.jsonl", gz, parquet, saved):
        report = import_pairs(store, path, "ultrafeedback", batch_size=1)
        with store.read() as con:
            got[path.name] = con.execute(
                "SELECT pair_id, prompt, chosen, rejected, score_chosen FROM pref_pairs "
                "WHERE dataset_id = ? ORDER BY pair_id",
                [report.dataset_id],
            ).fetchall()
    first = got["ultrafeedback_small.jsonl"]
    assert len(first) == 2 and first[0][4] == 8.5
    assert all(v == first for v in got.values()), got


def test_same_file_twice_is_found_not_reimported(db, capsys):
    first = audit_json(db, DATA / "trl_mixed.jsonl", "trl", capsys)
    again = audit_json(db, DATA / "trl_mixed.jsonl", "trl", capsys)
    assert first["dataset"]["created"] and not again["dataset"]["created"]
    assert first["dataset"]["dataset_id"] == again["dataset"]["dataset_id"]
    assert stored_counts(db) == (1, 3)
    limited = audit_json(db, DATA / "trl_mixed.jsonl", "trl", capsys, "--limit", "2")
    assert limited["dataset"]["n_pairs"] == 2
    assert limited["dataset"]["dataset_id"] != first["dataset"]["dataset_id"]


# --- bad input: clear message with file and line/row, non-zero exit, nothing half-written ----


def test_truncated_gzip_names_file_and_last_good_line(db, tmp_path, capsys):
    lines = [
        json.dumps({"prompt": f"Question {i}?", "chosen": f"Yes {i}.", "rejected": f"No {i}."})
        for i in range(2000)
    ]
    blob = gzip.compress(("\n".join(lines) + "\n").encode())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(blob[: len(blob) // 2])
    rc = audit(db, cut, "trl", "--batch-size", "100")  # several batches are written first
    err = capsys.readouterr().err
    assert rc != 0
    assert str(cut) in err and "truncated" in err and "last complete line" in err
    assert stored_counts(db) == (0, 0)


def test_row_without_rejected_stops_with_line_or_is_skipped_and_summarised(db, capsys):
    path = DATA / "trl_missing_rejected.jsonl"
    rc = audit(db, path, "trl", "--batch-size", "1")  # lines 1-2 were written before line 3
    err = capsys.readouterr().err
    assert rc != 0
    assert f"{path}:3" in err and "lacks 'rejected'" in err and "--on-error skip" in err
    assert stored_counts(db) == (0, 0)

    report = audit_json(db, path, "trl", capsys, "--on-error", "skip")["dataset"]
    assert report["n_pairs"] == 3 and report["n_skipped"] == 1
    assert report["skipped_by_reason"] == {"row lacks 'rejected'": 1}
    assert report["bad_rows"] == [{"where": f"{path}:3", "reason": "row lacks 'rejected'"}]
    assert stored_counts(db) == (1, 3)
    assert (
        main(
            [
                "audit",
                "--input",
                str(path),
                "--format",
                "trl",
                "--db",
                str(db),
                "--on-error",
                "skip",
                *IMPORT_ONLY,
            ]
        )
        == 0
    )
    human = capsys.readouterr().out
    assert "skipped 1 bad rows" in human and f"{path}:3" in human


def test_chosen_identical_to_rejected_is_flagged_not_dropped(db, capsys):
    report = audit_json(db, DATA / "trl_identical.jsonl", "trl", capsys)["dataset"]
    assert report["n_pairs"] == 2 and report["n_identical"] == 1
    assert report["flags"] == {"identical": 1}
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT pair_id, flags FROM pref_pairs ORDER BY pair_id").fetchall() == [
        (1, "identical"),
        (2, None),
    ]
    con.close()


def test_transcript_without_assistant_turn_is_a_bad_row(db, capsys):
    path = DATA / "hh_no_assistant.jsonl"
    assert audit(db, path, "hh-rlhf") != 0
    err = capsys.readouterr().err
    assert f"{path}:2" in err and "no '\\n\\nAssistant:' turn" in err
    assert stored_counts(db) == (0, 0)


@pytest.mark.parametrize(
    "name,content",
    [("empty.jsonl", b""), ("blank.jsonl", b"\n\n"), ("empty.jsonl.gz", gzip.compress(b""))],
)
def test_empty_file_is_a_clear_error(db, tmp_path, capsys, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    assert audit(db, path, "trl") != 0
    err = capsys.readouterr().err
    assert str(path) in err and "empty" in err
    assert stored_counts(db) == (0, 0)


def test_parquet_with_wrong_columns_lists_expected_and_found(db, tmp_path, capsys):
    path = tmp_path / "wrong.parquet"
    pq.write_table(pa.table({"question": ["q"], "answer_a": ["a"], "answer_b": ["b"]}), path)
    assert audit(db, path, "trl") != 0
    err = capsys.readouterr().err
    assert str(path) in err
    assert "expected chosen, rejected" in err and "found question, answer_a, answer_b" in err
    assert "missing chosen, rejected" in err
    assert stored_counts(db) == (0, 0)


def test_bad_row_in_parquet_names_the_row(db, tmp_path, capsys):
    path = tmp_path / "rows.parquet"
    pq.write_table(
        pa.table(
            {"prompt": ["q1", "q2", None], "chosen": ["a", "b", "c"], "rejected": ["x", "y", "z"]}
        ),
        path,
    )
    assert audit(db, path, "trl") != 0
    err = capsys.readouterr().err
    assert f"{path} row 3" in err and "lacks 'prompt'" in err


def test_invalid_json_line_and_all_rows_bad(db, tmp_path, capsys):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"prompt": "q", "chosen": "a", "rejected": "b"}\n{"prompt": oops}\n')
    assert audit(db, path, "trl") != 0
    assert f"{path}:2" in capsys.readouterr().err
    assert audit(db, DATA / "hh_small.jsonl", "trl", "--on-error", "skip") != 0
    err = capsys.readouterr().err
    assert "no valid pairs: all 3 rows are bad" in err and "--format" in err
    assert stored_counts(db) == (0, 0)


def test_missing_input_and_not_a_dataset_dir(db, tmp_path, capsys):
    assert audit(db, tmp_path / "nope.jsonl", "trl") != 0
    assert "no such file" in capsys.readouterr().err
    assert audit(db, tmp_path, "trl") != 0
    assert "not a saved `datasets` dataset" in capsys.readouterr().err


def test_killed_import_leftovers_are_invisible_and_cleared(db):
    """Pairs without a pref_datasets row (a killed import) are replaced by the next run."""
    store = Store(db)
    report = import_pairs(store, DATA / "trl_mixed.jsonl", "trl")
    with store.write() as con:  # simulate a kill after some batches, before the marker
        con.execute("DELETE FROM pref_datasets")
        con.execute("DELETE FROM pref_pairs WHERE pair_id = 3")
    again = import_pairs(store, DATA / "trl_mixed.jsonl", "trl")
    assert again.created and again.dataset_id == report.dataset_id
    assert stored_counts(db) == (1, 3)
