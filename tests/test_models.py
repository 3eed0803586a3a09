"""golddiff.models: the byte tokenizer, the built-in tiny/small models, and the HF-format round trip."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file

from golddiff.models import (
    ByteTokenizer,
    load_model,
    save_model,
    small_config,
    tiny_config,
    tiny_model,
)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_byte_tokenizer_round_trips_any_unicode(text):
    tok = ByteTokenizer()
    ids = tok.encode(text)
    assert all(0 <= i < 256 for i in ids)
    assert tok.decode(ids) == text
    assert tok.decode(tok.encode(text, add_special_tokens=True), skip_special_tokens=True) == text


def test_special_token_text_stays_bytes_unless_allowed():
    tok = ByteTokenizer()
    assert tok.encode("<|eos|>") == list(b"<|eos|>")
    assert tok.encode("a<|eos|>", allow_special=True) == [ord("a"), tok.eos_token_id]
    assert tok.decode([ord("a"), tok.eos_token_id, 0xFF]) == "a<|eos|>\ufffd"


def test_chat_template_matches_its_string_form():
    tok = ByteTokenizer()
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "héllo ✓"}]
    ids = tok.apply_chat_template(messages, add_generation_prompt=True)
    text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == "<|bos|><|system|>be brief<|eos|><|user|>héllo ✓<|eos|><|assistant|>"
    assert tok.encode(text, allow_special=True) == ids
    assert ids[-1] == tok.convert_tokens_to_ids("<|assistant|>")
    assert tok.apply_chat_template(messages, add_generation_prompt=False)[-1] == tok.eos_token_id
    with pytest.raises(ValueError, match="role"):
        tok.apply_chat_template([{"role": "robot", "content": "x"}])


def test_tokenizer_save_load(tmp_path):
    tok = ByteTokenizer(("<|bos|>", "<|eos|>", "<|pad|>", "<|user|>", "<|assistant|>", "<|extra|>"))
    tok.save_pretrained(tmp_path)
    again = ByteTokenizer.from_pretrained(tmp_path)
    assert again.special_tokens == tok.special_tokens and len(again) == 262


def test_tiny_model_is_small_seeded_and_sized_to_the_tokenizer():
    a, b, c = tiny_model(seed=1), tiny_model(seed=1), tiny_model(seed=2)
    assert 2e6 < a.num_parameters() < 6e6
    assert a.config.vocab_size == len(ByteTokenizer())
    assert torch.equal(a.model.layers[0].self_attn.q_proj.weight, b.model.layers[0].self_attn.q_proj.weight)
    assert not torch.equal(
        a.model.layers[0].self_attn.q_proj.weight, c.model.layers[0].self_attn.q_proj.weight
    )


def test_small_config_is_about_30m_parameters():
    cfg = small_config()
    c, layers, inter = cfg.hidden_size, cfg.num_hidden_layers, cfg.intermediate_size
    kv = cfg.num_key_value_heads * c // cfg.num_attention_heads
    per_layer = 2 * c * c + 2 * c * kv + 3 * c * inter + 2 * c
    assert 25e6 < layers * per_layer + cfg.vocab_size * c < 35e6
    assert tiny_config().num_hidden_layers == 4


def test_save_load_round_trip_gives_identical_logits(tmp_path):
    model, tok = load_model("tiny", seed=3)
    save_model(model, tok, tmp_path)
    assert (tmp_path / "config.json").exists()
    assert "model.embed_tokens.weight" in load_file(tmp_path / "model.safetensors")
    loaded, loaded_tok = load_model(tmp_path)
    assert isinstance(loaded_tok, ByteTokenizer)
    ids = torch.tensor([tok.apply_chat_template([{"role": "user", "content": "fix the bug"}])])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, loaded(ids).logits)


def test_load_model_dtype():
    model, tok = load_model("tiny", dtype="bfloat16")
    assert model.dtype == torch.bfloat16 and not model.training
    assert len(tok) == model.config.vocab_size


def test_sft_rl_and_eval_tokenize_a_task_the_same_way(tmp_path):
    from golddiff.models import answer_ids, prompt_ids
    from golddiff.rl.dataset import TaskDataset
    from golddiff.sft import build_examples
    from golddiff.tasks import make_task, write_tasks_parquet

    task = make_task({"a.py": "x = 1\ny = 2\n"}, {"a.py": "x = 1\ny = 3\n"}, request="Set y to 3.")
    write_tasks_parquet([task], tmp_path / "tasks.parquet")
    tok = ByteTokenizer()
    rl_prompt = TaskDataset(str(tmp_path / "tasks.parquet"), "train", tok, 32).prompt(0).prompt_ids
    (example,), too_long = build_examples([task], tok, max_len=4096)
    assert too_long == 0 and example.ids[: example.n_prompt] == rl_prompt == prompt_ids(tok, task.prompt)
    assert example.ids[example.n_prompt :] == answer_ids(tok, task.gold[0].answer)
    assert rl_prompt[-1] == tok.convert_tokens_to_ids("<|assistant|>")  # ends with the assistant's turn
    assert example.ids[-1] == tok.eos_token_id
