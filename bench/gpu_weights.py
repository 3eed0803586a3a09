"""The cost of an in-flight weight update: the learner's new weights into an engine whose every slot holds
a sequence in flight, in one process and across two. Used by bench/gpu.py (its docstring says how to run).

- In one process: `learner.full_state_dict()` → bf16 → `engine.update_weights` (copied into the live
  tensors before the next decode step; every sequence keeps its KV cache). Timed: the export, the copy, and
  the decode step that applies the update against a plain decode step.
- Across processes: a spawned engine process holds sequences in flight and takes each update before its next
  step. Transports: golddiff's `BroadcastGroup` (golddiff/rl/transport.py; NCCL between two GPUs, gloo on
  CPU), and a staging copy of the weights shared once by handle (CUDA IPC on one GPU, shared memory on CPU),
  so that each update is a device-to-device copy on each side. Timed: from the learner's publish to the
  engine's acknowledgement after the decode step that applied it (perf_counter is one monotonic clock for
  both processes), with the engine's receive, copy and step times.
Each update is checked: the engine's embedding afterwards equals the learner's, and differs from before.
"""

from __future__ import annotations

import queue
import traceback
from pathlib import Path
from statistics import median
from time import perf_counter

import torch

from golddiff.engine import BuiltinEngine, Request, SamplingParams
from golddiff.models import load_model
from golddiff.rl.transport import BroadcastGroup, dedupe_tied, free_address, state_bytes

PROMPT_TOKENS = 16
EMBED = "model.embed_tokens.weight"  # Llama and Qwen2 (tied to the LM head in both shapes)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _digest(tensor: torch.Tensor) -> float:
    return float(tensor.detach().double().sum())


def bf16_state(learner) -> dict[str, torch.Tensor]:
    """The learner's whole model in the engine's dtype, on the learner's device (what publish_weights sends)."""
    with torch.no_grad():
        state = learner.full_state_dict()
        return {k: v.detach().to(torch.bfloat16) if v.is_floating_point() else v for k, v in state.items()}


def engine_in_flight(path: Path, device: torch.device, sizes) -> BuiltinEngine:
    """An engine (bf16, golddiff's loader) whose every slot holds a sequence that outlasts the measurement."""
    model, tok = load_model(path, torch.bfloat16, device)
    engine = BuiltinEngine(
        model, tok, max_batch=sizes.max_batch, max_len=PROMPT_TOKENS + sizes.in_flight_tokens + 1
    )
    params = SamplingParams(temperature=1.0, max_new_tokens=sizes.in_flight_tokens, ignore_eos=True)
    for i in range(sizes.max_batch):
        engine.add_request(Request([(7 * i + j) % 256 for j in range(PROMPT_TOKENS)], params))
    engine.step()  # prefill every prompt, first token
    engine.step()  # a first decode step
    return engine


def _embedding(engine: BuiltinEngine) -> torch.Tensor:
    return engine.runner.model.get_input_embeddings().weight


def _check(engine_digest: float, before: float, state: dict[str, torch.Tensor], where: str) -> None:
    if engine_digest != _digest(state[EMBED]) or engine_digest == before:
        raise RuntimeError(f"{where}: the engine's weights after the update are not the learner's")


def in_process(learner, path: Path, device: torch.device, sizes) -> dict:
    engine = engine_in_flight(path, device, sizes)
    before, rows, state = _digest(_embedding(engine)), [], {}
    for version in range(1, sizes.updates + 1):
        _sync(device)
        t0 = perf_counter()
        state = bf16_state(learner)
        _sync(device)
        t1 = perf_counter()
        engine.update_weights(state, version)
        engine.step()
        _sync(device)
        t2 = perf_counter()
        engine.step()
        _sync(device)
        rows.append((t1 - t0, engine.stats()["weight_update_s_last"], t2 - t1, perf_counter() - t2))
    stats = engine.stats()
    if stats["active"] != sizes.max_batch:
        raise RuntimeError(f"only {stats['active']} of {sizes.max_batch} sequences stayed in flight")
    _check(_digest(_embedding(engine)), before, state, "in process")
    export, update, with_update, plain = (median(column) for column in zip(*rows))
    nbytes = state_bytes(dedupe_tied(state))
    print(f"in process: {nbytes / 1e6:,.0f} MB; export {1e3 * export:.1f} ms, copy into the engine "
          f"{1e3 * update:.2f} ms ({nbytes / update / 1e9:,.0f} GB/s), decode step {1e3 * plain:.2f} ms → "
          f"{1e3 * with_update:.2f} ms with the update; {stats['active']} sequences in flight")  # fmt: skip
    return {"bytes": nbytes, "export_ms": 1e3 * export, "update_ms": 1e3 * update, "copy_GBps": nbytes / update / 1e9,
            "step_ms": 1e3 * plain, "step_with_update_ms": 1e3 * with_update, "in_flight": stats["active"],
            "versions_seen": stats["versions_seen"]}  # fmt: skip


def transports(device: torch.device) -> tuple[list[str], str]:
    """The transports to time on this machine and the engine process's device."""
    if device.type == "cpu":
        return ["gloo", "shared_memory"], "cpu"
    if torch.cuda.device_count() >= 2:
        return ["nccl", "cuda_ipc"], "cuda:1"
    return ["cuda_ipc"], "cuda:0"  # NCCL refuses two ranks on one GPU


def cross_process(learner, path: Path, device: torch.device, sizes) -> dict:
    names, engine_device = transports(device)
    ctx = torch.multiprocessing.get_context("spawn")
    inbox, outbox = ctx.Queue(), ctx.Queue()
    host, port = free_address()
    child = ctx.Process(
        target=engine_process, args=(str(path), engine_device, names, host, port, sizes, inbox, outbox), daemon=True
    )  # fmt: skip
    t0 = perf_counter()
    child.start()
    out: dict = {"engine_device": engine_device, "transports": {}}
    try:
        before = _expect(child, outbox, "ready")["digest"]
        out["engine_start_s"] = perf_counter() - t0
        broadcast = next((n for n in names if n in ("nccl", "gloo")), None)
        group = BroadcastGroup(host, port, 0, 2, broadcast, device) if broadcast else None
        staging = {k: v.clone() for k, v in dedupe_tied(bf16_state(learner)).items()}
        if any(n not in ("nccl", "gloo") for n in names):
            inbox.put(("buffers", staging, 0))  # CUDA IPC handles / shared memory, mapped once
            _expect(child, outbox, "buffers")
        version = 0
        for name in names:
            rows = []
            for _ in range(sizes.updates):
                version += 1
                state = bf16_state(learner)
                _sync(device)
                t0 = perf_counter()
                if name in ("nccl", "gloo"):
                    inbox.put(("broadcast", group.publish(state, version), version))
                else:
                    for key, tensor in staging.items():
                        tensor.copy_(state[key])
                    _sync(device)
                    inbox.put(("shared", None, version))
                reply = _expect(child, outbox, "updated")
                reply["latency_s"] = perf_counter() - t0
                if group is not None:
                    group.join()
                _check(reply["digest"], before, state, name)
                rows.append(reply)
            out["transports"][name] = _summarise(name, rows, state_bytes(staging))
        inbox.put(None)
        _expect(child, outbox, "done")
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    return out


def _summarise(name: str, rows: list[dict], nbytes: int) -> dict:
    med = {key: median(r[key] for r in rows) for key in ("latency_s", "receive_s", "apply_s", "step_s")}
    moved = med["receive_s"] + med["apply_s"]
    print(f"{name}: {nbytes / 1e6:,.0f} MB; publish → engine applied and stepped {1e3 * med['latency_s']:.1f} ms "
          f"(receive {1e3 * med['receive_s']:.1f} ms, copy {1e3 * med['apply_s']:.2f} ms, decode step "
          f"{1e3 * med['step_s']:.2f} ms); {rows[-1]['active']} sequences in flight")  # fmt: skip
    return {"bytes": nbytes, "latency_ms": 1e3 * med["latency_s"], "receive_ms": 1e3 * med["receive_s"],
            "apply_ms": 1e3 * med["apply_s"], "step_ms": 1e3 * med["step_s"], "GBps": nbytes / moved / 1e9,
            "in_flight": rows[-1]["active"], "updates": len(rows)}  # fmt: skip


def _expect(child, outbox, kind: str, timeout: float = 600.0) -> dict:
    """The engine process's next message, which must be `kind`; its error, death or silence raised here."""
    deadline = perf_counter() + timeout
    while True:
        try:
            got, body = outbox.get(timeout=1.0)
        except queue.Empty:
            if not child.is_alive():
                raise RuntimeError(f"the engine process died (exit code {child.exitcode})") from None
            if perf_counter() > deadline:
                raise TimeoutError(f"no {kind!r} from the engine process in {timeout:.0f} s") from None
            continue
        if got == "error":
            raise RuntimeError(f"the engine process failed:\n{body}")
        if got != kind:
            raise RuntimeError(f"expected {kind!r} from the engine process, got {got!r}")
        return body


def engine_process(
    path: str, device: str, names: list[str], host: str, port: int, sizes, inbox, outbox
) -> None:
    """The engine side: sequences in flight; each update received, applied before the next decode step."""
    try:
        dev = torch.device(device)
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        engine = engine_in_flight(Path(path), dev, sizes)
        embed = _embedding(engine)
        outbox.put(("ready", {"digest": _digest(embed)}))
        broadcast = next((n for n in names if n in ("nccl", "gloo")), None)
        group = BroadcastGroup(host, port, 1, 2, broadcast, dev) if broadcast else None
        buffers = None
        while (item := inbox.get()) is not None:
            kind, payload, version = item
            if kind == "buffers":
                buffers = payload
                outbox.put(("buffers", {}))
                continue
            t0 = perf_counter()
            state = group.receive(payload) if kind == "broadcast" else buffers
            _sync(dev)
            t1 = perf_counter()
            engine.update_weights(state, version)
            engine.step()
            _sync(dev)
            stats = engine.stats()
            outbox.put(("updated", {"receive_s": t1 - t0, "apply_s": stats["weight_update_s_last"],
                                    "step_s": perf_counter() - t1 - stats["weight_update_s_last"],
                                    "active": stats["active"], "version": stats["weight_version"],
                                    "digest": _digest(embed)}))  # fmt: skip
        del buffers  # release the shared handles before the learner side frees them
        outbox.put(("done", {}))
    except BaseException:
        outbox.put(("error", traceback.format_exc()))
