"""Training data is validated row by row, with errors that name the file, line and fields."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.training import preference_rows, sft_rows, write_jsonl
from vdbench.errors import InputError
from vdbench.training.data import load_training_data, to_dataset


def test_sft_data_given_to_a_preference_stage_names_the_missing_fields(tmp_path):
    path = write_jsonl(tmp_path / "sft.jsonl", sft_rows(3, {"neutral": 1}))
    with pytest.raises(InputError) as err:
        load_training_data(path, "preference")
    text = err.value.render()
    assert f"{path}:1" in text
    assert "'prompt', 'chosen', 'rejected'" in text
    assert "looks like SFT data" in text


def test_preference_data_given_to_sft_points_to_the_right_command(tmp_path):
    path = write_jsonl(tmp_path / "pref.jsonl", preference_rows(2, "support", ("oppose",)))
    with pytest.raises(InputError, match="'messages'") as err:
        load_training_data(path, "sft")
    assert "vdbench train dpo" in err.value.render()


def test_the_bad_line_is_named(tmp_path):
    rows = sft_rows(3, {"neutral": 1})
    rows[2]["messages"] = [{"role": "user", "content": "hi"}]  # no assistant turn
    path = write_jsonl(tmp_path / "sft.jsonl", rows)
    with pytest.raises(InputError, match="no assistant turn") as err:
        load_training_data(path, "sft")
    assert err.value.where == f"{path}:3"


def test_bad_role_and_bad_stance_are_reported(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "robot", "content": "x"}]}) + "\n")
    with pytest.raises(InputError, match="role 'robot'"):
        load_training_data(path, "sft")
    row = {"prompt": "q", "chosen": "a", "rejected": "b", "chosen_stance": "yes", "rejected_stance": "oppose"}
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(InputError, match="chosen_stance"):
        load_training_data(path, "preference")


def test_string_preferences_become_conversations_and_implicit_prompts_are_split(tmp_path):
    path = tmp_path / "p.jsonl"
    rows = [
        {"prompt": "Q?", "chosen": "yes", "rejected": "no", "score_chosen": 5, "score_rejected": 1},
        {"chosen": [{"role": "user", "content": "Q2?"}, {"role": "assistant", "content": "A"}],
         "rejected": [{"role": "user", "content": "Q2?"}, {"role": "assistant", "content": "B"}]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = load_training_data(path, "preference")
    assert data.rows[0]["prompt"] == [{"role": "user", "content": "Q?"}]
    assert data.rows[0]["chosen"] == [{"role": "assistant", "content": "yes"}]
    assert data.rows[0]["score_chosen"] == 5.0
    assert data.rows[1]["prompt"] == [{"role": "user", "content": "Q2?"}]
    assert data.rows[1]["rejected"] == [{"role": "assistant", "content": "B"}]
    assert to_dataset(data).column_names == ["prompt", "chosen", "rejected"]


def test_parquet_and_saved_dataset_directories_are_read(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Dataset

    rows = [{"messages": r["messages"]} for r in sft_rows(4, {"support": 1})]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
    assert len(load_training_data(tmp_path / "d.parquet", "sft")) == 4
    Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))
    assert len(load_training_data(tmp_path / "saved", "sft")) == 4


def test_missing_file_and_unknown_type(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_training_data(tmp_path / "nope.jsonl", "sft")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(InputError, match="file type"):
        load_training_data(tmp_path / "x.txt", "sft")
