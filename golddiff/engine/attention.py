"""The engine's attention over the static KV cache: one object per forward pass, called once per layer.

- `DecodeAttention`: one new token for each of slots [0, n); writes its k/v at the slot's position, then
  attends over the slot's own cache row with a boolean mask of its valid positions (SDPA, no repeat of the
  KV heads: the query heads of a KV group are laid out as the query length).
- `PrefillAttention`: several prompts packed into one sequence; writes their k/v into their slots and
  attends block-causally (each token sees only earlier tokens of its own prompt). Without sliding windows
  each prompt is its own causal SDPA call: one masked call over the whole pack would cost (Σ lengths)²
  instead of Σ lengths², which for 12 prompts of 170 tokens was most of the prefill time on CPU.

Sliding-window layers (Mistral, some Qwen configs) get the window added to the mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from golddiff.engine.kvcache import KVCache
from golddiff.engine.runner import ModelRunner


def _window_masks(q_pos: torch.Tensor, k_pos: torch.Tensor, base: torch.Tensor, windows) -> dict:
    """{window: mask}; q_pos (.., 1) and k_pos (1, ..) broadcast against `base`, the causal mask."""
    masks = {None: base}
    for w in set(windows) - {None}:
        masks[w] = base & (k_pos > q_pos - w)
    return masks


class DecodeAttention:
    def __init__(self, cache: KVCache, runner: ModelRunner, cur_len: torch.Tensor, length: int) -> None:
        """cur_len: (n,) tokens per slot including the one being fed (0 for an empty slot)."""
        n = cur_len.shape[0]
        self.cache, self.runner, self.n, self.length = cache, runner, n, length
        self.slots = torch.arange(n, device=cur_len.device)
        self.positions = (cur_len - 1).clamp_min(0)  # (n,) where the fed token goes
        k_pos = torch.arange(length, device=cur_len.device)[None, :]  # (1, L)
        q_pos = self.positions[:, None]  # (n, 1)
        masks = _window_masks(q_pos, k_pos, k_pos <= q_pos, runner.windows)  # (n, L) each
        self.masks = {w: m[:, None, None, :] for w, m in masks.items()}  # (n, 1, 1, L)

    def __call__(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        self.cache.write(layer, self.slots, self.positions, k, v)
        keys, values = self.cache.view(layer, self.n, self.length)  # (n, Hkv, L, D)
        q = q.view(self.n, self.runner.n_kv_heads, -1, self.runner.head_dim)  # (n, Hkv, G, D)
        mask = self.masks[self.runner.windows[layer]]
        out = F.scaled_dot_product_attention(
            q, keys, values, attn_mask=mask, scale=self.runner.scalings[layer]
        )
        return out.reshape(self.n, -1)  # (n, Hq·D)


class PrefillAttention:
    def __init__(
        self,
        cache: KVCache,
        runner: ModelRunner,
        slots: torch.Tensor,
        positions: torch.Tensor,
        segments: torch.Tensor,
        n_segments: int,
    ) -> None:
        """slots, positions, segments: (T,) per packed token: its slot, position, and prompt index. Prompts
        are contiguous in the pack and each starts at position 0."""
        self.cache, self.runner, self.slots, self.positions = cache, runner, slots, positions
        self.causal_only = all(w is None for w in runner.windows)
        if self.causal_only:
            ends = torch.cumsum(torch.bincount(segments, minlength=n_segments), 0).tolist()
            self.bounds = list(zip([0, *ends[:-1]], ends))  # [start, end) of each prompt in the pack
            self.masks = {}
            return
        q_pos, k_pos = positions[:, None], positions[None, :]  # (T, 1), (1, T)
        base = (segments[:, None] == segments[None, :]) & (k_pos <= q_pos)  # (T, T)
        self.masks = _window_masks(q_pos, k_pos, base, runner.windows)

    def __call__(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        self.cache.write(layer, self.slots, self.positions, k, v)
        t = q.shape[0]
        q, k, v = (x.transpose(0, 1)[None] for x in (q, k, v))  # (1, H, T, D)
        gqa = self.runner.n_heads != self.runner.n_kv_heads
        scale = self.runner.scalings[layer]
        if self.causal_only:
            out = torch.cat(
                [
                    F.scaled_dot_product_attention(
                        q[:, :, a:b], k[:, :, a:b], v[:, :, a:b], is_causal=True, scale=scale, enable_gqa=gqa
                    )
                    for a, b in self.bounds
                ],
                dim=2,
            )  # (1, H, T, D)
        else:
            mask = self.masks[self.runner.windows[layer]]
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale, enable_gqa=gqa)
        return out[0].transpose(0, 1).reshape(t, -1)  # (T, Hq·D)
