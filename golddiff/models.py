"""Models and tokenizers: load a Hugging Face causal LM, or build the built-in tiny one.

Three things live here:

- `prompt_ids` and `answer_ids`: the one tokenization of a chat prompt (through the tokenizer's chat
  template, ending with the assistant's turn) and of an answer (its ids, then EOS). SFT trains on
  prompt + answer, RL and eval prompt the engine with the same prompt ids.
- `ByteTokenizer`: 256 byte tokens plus a few special tokens (`<|bos|>`, `<|eos|>`, `<|pad|>` and the
  chat-role markers). It encodes any unicode text losslessly, has a chat template in the spirit of Hugging
  Face's `apply_chat_template`, and saves to / loads from a directory.
- Model configs and loaders: `tiny_model(seed)` builds a Llama-style model of a few million parameters in
  process (the embedded default and what the tests use), `small_model(seed)` a ~30M-parameter one for
  benchmarks, and `load_model(name_or_path, dtype, device)` returns `(model, tokenizer)` for "tiny",
  "small", a local directory or a hub id (Llama, Qwen2/2.5/3, Mistral and GPT-2 families).
  `save_model` writes the Hugging Face format (config.json + model.safetensors + tokenizer files).

Nothing here downloads anything unless you pass a hub id that is not in the local cache. torch and
transformers are imported when a model is built or loaded, not with this module.

    python -c "from golddiff.models import load_model; m, t = load_model('tiny'); print(m.num_parameters())"
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from golddiff.config import torch_dtype

if TYPE_CHECKING:
    import torch
    from transformers import LlamaConfig, PreTrainedModel

SPECIAL_TOKENS = (
    "<|bos|>",
    "<|eos|>",
    "<|pad|>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|tool|>",
    "<|unk|>",
)
CHAT_ROLES = ("system", "user", "assistant", "tool")
BYTE_TOKENIZER_FILE = "byte_tokenizer.json"


def prompt_ids(tokenizer: Any, messages: Sequence[dict[str, str]]) -> list[int]:
    """The token ids of chat `messages` through the tokenizer's chat template, ending with the assistant's
    turn: what SFT trains on before the answer, and what the engine is prompted with in RL and eval."""
    ids = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True)
    if hasattr(ids, "keys"):  # some tokenizers return a BatchEncoding (or a dict) instead of a list
        ids = ids["input_ids"]
    return [int(i) for i in ids]


def answer_ids(tokenizer: Any, answer: str) -> list[int]:
    """The answer's token ids followed by EOS (where the engine stops): the target SFT trains on."""
    ids = tokenizer.encode(answer, add_special_tokens=False)
    return [int(i) for i in ids] + [int(tokenizer.eos_token_id)]


class ByteTokenizer:
    """Byte-level tokenizer: ids 0..255 are the UTF-8 bytes, then the special tokens.

    `encode` never turns text into special tokens unless `allow_special=True` (text from session logs can
    contain anything, so a user's "<|eos|>" stays bytes). `decode` replaces invalid UTF-8 with U+FFFD.
    """

    def __init__(self, special_tokens: Sequence[str] = SPECIAL_TOKENS) -> None:
        self.special_tokens = tuple(special_tokens)
        self._special_to_id = {tok: 256 + i for i, tok in enumerate(self.special_tokens)}
        self._special_re = re.compile("(" + "|".join(re.escape(t) for t in self.special_tokens) + ")")
        self.bos_token, self.eos_token, self.pad_token = "<|bos|>", "<|eos|>", "<|pad|>"
        self.bos_token_id = self._special_to_id[self.bos_token]
        self.eos_token_id = self._special_to_id[self.eos_token]
        self.pad_token_id = self._special_to_id[self.pad_token]

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.special_tokens)

    def __len__(self) -> int:
        return self.vocab_size

    def convert_tokens_to_ids(self, token: str) -> int:
        return self._special_to_id[token]

    def encode(self, text: str, add_special_tokens: bool = False, allow_special: bool = False) -> list[int]:
        """UTF-8 bytes of `text`; `add_special_tokens` prepends <|bos|>."""
        ids = [self.bos_token_id] if add_special_tokens else []
        if not allow_special:
            return ids + list(text.encode("utf-8"))
        for part in self._special_re.split(text):
            if part in self._special_to_id:
                ids.append(self._special_to_id[part])
            else:
                ids.extend(part.encode("utf-8"))
        return ids

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = False) -> str:
        out: list[str] = []
        run = bytearray()
        for i in ids:
            i = int(i)
            if i < 256:
                run.append(i)
                continue
            out.append(run.decode("utf-8", errors="replace"))
            run.clear()
            if not skip_special_tokens:
                out.append(self.special_tokens[i - 256])
        out.append(run.decode("utf-8", errors="replace"))
        return "".join(out)

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        return {"input_ids": self.encode(text, add_special_tokens=add_special_tokens)}

    def apply_chat_template(
        self,
        messages: Sequence[dict[str, Any]],
        add_generation_prompt: bool = True,
        tokenize: bool = True,
    ) -> list[int] | str:
        """`<|bos|>` then `<|role|>content<|eos|>` per message, then `<|assistant|>` if asked.

        With `tokenize=False` it returns the same sequence as a string; `encode(s, allow_special=True)`
        of that string gives the token ids back.
        """
        ids = [self.bos_token_id]
        for message in messages:
            role = message["role"]
            if role not in CHAT_ROLES:
                raise ValueError(f"unknown chat role {role!r}; expected one of {CHAT_ROLES}")
            ids.append(self._special_to_id[f"<|{role}|>"])
            ids.extend(str(message["content"]).encode("utf-8"))
            ids.append(self.eos_token_id)
        if add_generation_prompt:
            ids.append(self._special_to_id["<|assistant|>"])
        return ids if tokenize else self.decode(ids)

    def save_pretrained(self, path: str | Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        config = {"tokenizer_class": "golddiff.ByteTokenizer", "special_tokens": list(self.special_tokens)}
        (path / BYTE_TOKENIZER_FILE).write_text(json.dumps(config, indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, path: str | Path) -> ByteTokenizer:
        config = json.loads((Path(path) / BYTE_TOKENIZER_FILE).read_text())
        return cls(config["special_tokens"])


def _byte_llama_config(**sizes: Any) -> LlamaConfig:
    from transformers import LlamaConfig

    tok = ByteTokenizer()
    return LlamaConfig(
        vocab_size=tok.vocab_size,
        max_position_embeddings=4096,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        **sizes,
    )


def tiny_config() -> LlamaConfig:
    """Llama-style, ~3.2M parameters: hidden 256, 4 layers, 4 query heads sharing 2 KV heads (GQA)."""
    return _byte_llama_config(
        hidden_size=256,
        intermediate_size=688,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
    )


def small_config() -> LlamaConfig:
    """Llama-style, ~30M parameters: hidden 512, 10 layers, 8 query heads sharing 4 KV heads."""
    return _byte_llama_config(
        hidden_size=512,
        intermediate_size=1408,
        num_hidden_layers=10,
        num_attention_heads=8,
        num_key_value_heads=4,
    )


def build_model(config: Any, seed: int = 0) -> PreTrainedModel:
    """A randomly initialised causal LM for `config` (any HF config); the global RNG is left untouched."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config)
    return model.eval()


def tiny_model(seed: int = 0) -> PreTrainedModel:
    return build_model(tiny_config(), seed)


def small_model(seed: int = 0) -> PreTrainedModel:
    return build_model(small_config(), seed)


BUILT_IN = {"tiny": tiny_config, "small": small_config}


def save_model(model: PreTrainedModel, tokenizer: Any, path: str | Path) -> None:
    """Hugging Face format: config.json, model.safetensors, and the tokenizer's files."""
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)


def load_tokenizer(name_or_path: str | Path) -> Any:
    if str(name_or_path) in BUILT_IN or (Path(name_or_path) / BYTE_TOKENIZER_FILE).exists():
        return (
            ByteTokenizer() if str(name_or_path) in BUILT_IN else ByteTokenizer.from_pretrained(name_or_path)
        )
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name_or_path)


def load_model(
    name_or_path: str | Path = "tiny",
    dtype: torch.dtype | str = "float32",
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> tuple[PreTrainedModel, Any]:
    """(model in eval mode, tokenizer) for "tiny"/"small" (built with `seed`), a directory, or a hub id."""
    from transformers import AutoModelForCausalLM

    dtype = torch_dtype(dtype)
    if str(name_or_path) in BUILT_IN:
        model = build_model(BUILT_IN[str(name_or_path)](), seed)
    else:
        model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype)
    return model.to(device=device, dtype=dtype).eval(), load_tokenizer(name_or_path)
