"""Generation engines: the `Engine` protocol every consumer types against, and the built-in engine.

- `protocol`: `Engine` (`generate`, `update_weights`, `stats`) and `StepEngine` (plus `add_request`,
  `has_work`, `step`, what a Pipeline RL actor drives); a new engine (vLLM's) implements these;
- `builtin`: `BuiltinEngine`, continuous batching over a static KV cache with in-flight weight updates,
  for any Hugging Face causal LM, on CPU or GPU (`attention`, `kvcache`, `runner`, `sampling`, `slots` and
  `weights` are its parts);
- `vllm`: `VLLMEngine`, vLLM behind the same protocol (CPU or GPU; imported only when built);
- `factory`: `make_engine("builtin" | "vllm", model, tokenizer, ...)`, what settings name;
- `background`: `EngineThread`, a `StepEngine` stepping in a background thread;
- `types`: `Request`, `SamplingParams`, `Completion`, `Timings` (no torch; they travel between processes).
"""

from golddiff.engine.background import EngineThread
from golddiff.engine.builtin import BuiltinEngine
from golddiff.engine.factory import ENGINES, make_engine
from golddiff.engine.protocol import Engine, StepEngine
from golddiff.engine.sampling import sample
from golddiff.engine.types import Completion, Request, SamplingParams, Timings

__all__ = [
    "BuiltinEngine",
    "Completion",
    "Engine",
    "ENGINES",
    "EngineThread",
    "Request",
    "SamplingParams",
    "StepEngine",
    "Timings",
    "make_engine",
    "sample",
]
