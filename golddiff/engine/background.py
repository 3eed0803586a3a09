"""An engine stepping in a background thread: feed it from any thread, take completions from a queue.

    with EngineThread(BuiltinEngine(model, tokenizer)) as worker:
        worker.add_request(Request(prompt_ids, SamplingParams(n=8)))
        worker.update_weights(state_dict, version=1)      # applied before the next decode step
        completion = worker.get(timeout=60)

This is the shape a Pipeline RL actor wants: its loop keeps adding prompts and publishing weights while
generation never stops. An error inside the engine stops the thread and is raised again by `get`.
"""

from __future__ import annotations

import queue
import threading
from time import monotonic
from typing import Any

from golddiff.engine.protocol import StepEngine
from golddiff.engine.types import Completion


class EngineThread:
    def __init__(self, engine: StepEngine, idle_wait_s: float = 0.01) -> None:
        self.engine = engine
        self.completions: queue.Queue[Completion] = queue.Queue()
        self._idle_wait_s = idle_wait_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="golddiff-engine", daemon=True)

    def start(self) -> EngineThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()

    def __enter__(self) -> EngineThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_request(self, *args: Any, **kwargs: Any) -> Any:
        request_id = self.engine.add_request(*args, **kwargs)
        self._wake.set()
        return request_id

    def update_weights(self, *args: Any, **kwargs: Any) -> None:
        self.engine.update_weights(*args, **kwargs)
        self._wake.set()

    def get(self, timeout: float | None = None) -> Completion:
        """The next finished completion; raises the engine's error if it died, queue.Empty on timeout."""
        deadline = None if timeout is None else monotonic() + timeout
        while self._error is None:
            try:
                return self.completions.get(timeout=0.05)
            except queue.Empty:
                if deadline is not None and monotonic() > deadline:
                    raise
        raise RuntimeError("the engine thread failed") from self._error

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if not self.engine.has_work():
                    self._wake.wait(self._idle_wait_s)
                    self._wake.clear()
                    continue
                for completion in self.engine.step():
                    self.completions.put(completion)
        except BaseException as error:  # handed to the consumer by `get`
            self._error = error
