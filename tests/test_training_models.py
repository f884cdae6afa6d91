"""Model directories are checked before loading; code in a model directory never runs
unless --trust-remote-code is given."""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest

from tests.fixtures.training import build_tiny_tokenizer
from vdbench.errors import InputError
from vdbench.training.models import (
    FALLBACK_CHAT_TEMPLATE,
    check_model_dir,
    load_model_and_tokenizer,
    load_tokenizer,
)


def test_missing_config_tokenizer_or_weights_is_named(tmp_path, tiny_world):
    with pytest.raises(InputError, match="not found"):
        check_model_dir(tmp_path / "none")
    no_tok = tmp_path / "no_tok"
    shutil.copytree(tiny_world.model, no_tok)
    (no_tok / "tokenizer.json").unlink()
    with pytest.raises(InputError, match="no tokenizer"):
        check_model_dir(no_tok)
    no_cfg = tmp_path / "no_cfg"
    shutil.copytree(tiny_world.model, no_cfg)
    (no_cfg / "config.json").unlink()
    with pytest.raises(InputError, match="no config.json"):
        check_model_dir(no_cfg)
    no_weights = tmp_path / "no_w"
    shutil.copytree(tiny_world.model, no_weights)
    for f in no_weights.glob("*.safetensors"):
        f.unlink()
    with pytest.raises(InputError, match="no weights"):
        check_model_dir(no_weights)


def _remote_code_dir(tmp_path, tiny_world):
    """The tiny model re-labelled as a custom architecture whose code writes a marker file."""
    model_dir = tmp_path / "custom"
    shutil.copytree(tiny_world.model, model_dir)
    marker = tmp_path / "code-ran"
    (model_dir / "configuration_tinycustom.py").write_text(textwrap.dedent(f"""
        import pathlib
        pathlib.Path({str(marker)!r}).write_text("ran")
        from transformers import LlamaConfig

        class TinyCustomConfig(LlamaConfig):
            model_type = "tinycustom"
    """))
    (model_dir / "modeling_tinycustom.py").write_text(textwrap.dedent("""
        from transformers import LlamaForCausalLM
        from .configuration_tinycustom import TinyCustomConfig

        class TinyCustomForCausalLM(LlamaForCausalLM):
            config_class = TinyCustomConfig
    """))
    config = json.loads((model_dir / "config.json").read_text())
    config.update(model_type="tinycustom", architectures=["TinyCustomForCausalLM"], auto_map={
        "AutoConfig": "configuration_tinycustom.TinyCustomConfig",
        "AutoModelForCausalLM": "modeling_tinycustom.TinyCustomForCausalLM",
    })
    (model_dir / "config.json").write_text(json.dumps(config))
    return model_dir, marker


def test_remote_code_is_refused_without_the_flag_and_never_runs(tmp_path, tiny_world):
    model_dir, marker = _remote_code_dir(tmp_path, tiny_world)
    with pytest.raises(InputError, match="run Python code from its directory") as err:
        load_model_and_tokenizer(model_dir)
    assert "configuration_tinycustom.py" in err.value.render()
    assert "--trust-remote-code" in err.value.render()
    assert not marker.exists()


def test_remote_code_runs_with_the_flag(tmp_path, tiny_world):
    model_dir, marker = _remote_code_dir(tmp_path, tiny_world)
    model, _ = load_model_and_tokenizer(model_dir, trust_remote_code=True)
    assert type(model).__name__ == "TinyCustomForCausalLM"
    assert marker.exists()


def test_tokenizer_without_pad_or_template_gets_both(tmp_path):
    tok = build_tiny_tokenizer()
    tok.chat_template = None
    tok.pad_token = None
    tok.save_pretrained(tmp_path)
    loaded = load_tokenizer(tmp_path)
    assert loaded.pad_token == "<unk>"
    assert loaded.chat_template == FALLBACK_CHAT_TEMPLATE
    text = loaded.apply_chat_template([{"role": "user", "content": "Hi"}], add_generation_prompt=True,
                                      tokenize=False)
    assert text == "User:\nHi\nAssistant:\n"
