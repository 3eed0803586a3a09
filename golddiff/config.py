"""Settings: the one strict pydantic base, YAML recipes with dotted overrides, and the one dtype parser.

Every settings, config and schema model in golddiff derives from `Strict`, which refuses unknown keys
(a typo in a recipe or an episode file is an error that names the valid keys, never a silent default).

    cfg = load_config(TrainConfig, "configs/demo.yaml", ["--rl.group_size=4", "--run.dir=runs/x"])

An override is `--a.b=value` (leading dashes optional); the value is read as a YAML scalar (`3` is an int,
`1e-3` a float, `true` a bool, `[0.9, 0.99]` a list, `null` None) and pydantic then coerces it to the
field's type. Errors name the file, the key, and (for an unknown key) the keys valid at that level.

Dtypes are named the same way everywhere (`fp32`/`float32`, `bf16`/`bfloat16`, `fp16`/`float16`):
`parse_dtype` gives the canonical name, `torch_dtype` the torch dtype, `DTYPE_BYTES` the size.
No torch at import: `golddiff --help` and config checks stay instant.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)
_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)$")  # YAML 1.1 reads "1e-3" as a string


class ConfigError(ValueError):
    """A config that cannot be loaded; the message says where and what is valid."""


class Strict(BaseModel):
    """The base of every golddiff settings, config and schema model: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------------------------- dtypes

_DTYPE_NAMES = {
    "fp32": "float32",
    "float32": "float32",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "float16": "float16",
}
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


def parse_dtype(dtype: Any, allow_auto: bool = False) -> str:
    """The canonical (torch) name of a floating dtype given as "fp32", "bf16", "bfloat16", ... or as a
    torch dtype: "float32", "bfloat16" or "float16". With `allow_auto`, "auto" is kept as it is (resolved by
    `torch_dtype` on the device in use). An unknown name raises ConfigError naming the valid ones.

    >>> parse_dtype("bf16"), parse_dtype("float32"), parse_dtype("auto", allow_auto=True)
    ('bfloat16', 'float32', 'auto')
    """
    name = str(dtype).removeprefix("torch.")
    if allow_auto and name == "auto":
        return "auto"
    if name not in _DTYPE_NAMES:
        valid = ", ".join([*_DTYPE_NAMES, *(["auto"] if allow_auto else [])])
        raise ConfigError(f"unknown dtype {name!r}; expected one of {valid}")
    return _DTYPE_NAMES[name]


def bf16_native(device: Any = "cpu") -> bool:
    """Whether `device` runs bf16 matmuls natively: CUDA with bf16, or a CPU with AVX512-BF16/AMX (oneDNN's
    own check). Without it bf16 is emulated on CPU and slower than fp32. Imports torch when called."""
    import torch

    if str(device).startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def torch_dtype(dtype: Any, device: Any = "cpu") -> Any:
    """The torch dtype for a name `parse_dtype` accepts, or "auto": bf16 where `device` computes it natively
    (`bf16_native`), else float32 (on a CPU with AVX512-BF16 a bf16 matmul of SmolLM2's shapes runs ~2x
    faster than fp32). A torch dtype is returned as it is. Imports torch when called."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if str(dtype) == "auto":
        return torch.bfloat16 if bf16_native(device) else torch.float32
    return getattr(torch, parse_dtype(dtype))


def _submodel(annotation: Any) -> type[BaseModel] | None:
    candidates = [annotation, *getattr(annotation, "__args__", ())]
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)


def valid_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every leaf key of `model` in dotted form (nested models expanded)."""
    keys = []
    for name, info in model.model_fields.items():
        sub = _submodel(info.annotation)
        keys += valid_keys(sub, f"{prefix}{name}.") if sub else [prefix + name]
    return keys


def _keys_at(model: type[BaseModel], path: list[str]) -> list[str]:
    """The dotted keys one level below `path` (["rl"] → ["rl.lr", "rl.group_size", ...])."""
    for part in path:
        info = model.model_fields.get(part)
        sub = _submodel(info.annotation) if info else None
        if sub is None:
            return []
        model = sub
    return ["".join(f"{p}." for p in path) + name for name in model.model_fields]


def explain(error: ValidationError, model: type[BaseModel], source: str) -> str:
    lines = []
    for e in error.errors():
        loc = [str(x) for x in e["loc"]]
        where = ".".join(loc)
        if e["type"] == "extra_forbidden":
            valid = ", ".join(_keys_at(model, loc[:-1]))
            lines.append(f"unknown key {where!r}; valid keys here: {valid}")
        else:
            lines.append(f"{where or 'config'}: {e['msg']}")
    return f"{source}: " + "; ".join(lines)


_WORDS = {"yes", "no", "on", "off", "y", "n"}  # YAML 1.1 booleans: an override keeps them as words


def _scalar(text: str) -> Any:
    if text.lower() in _WORDS:
        return text
    return float(text) if _FLOAT.match(text) else yaml.safe_load(text)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """['--rl.lr=1e-3', 'run.steps=10'] → {'rl': {'lr': 0.001}, 'run': {'steps': 10}}."""
    nested: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.lstrip("-").partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"override {item!r}: expected --a.b=value")
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} was given a value and sub-keys")
        node[leaf] = _scalar(value)
    return nested


def merge(base: dict, extra: dict) -> dict:
    """`extra` over `base`, recursively for nested mappings."""
    out = dict(base)
    for key, value in extra.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merge(out[key], value) if both else value
    return out


def read_yaml(path: str | Path) -> dict:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    return raw


def load_config(model: type[M], path: str | Path | None, overrides: list[str] | None = None) -> M:
    """`model` from the YAML at `path` (or defaults), then the overrides on top."""
    raw = read_yaml(path) if path is not None else {}
    raw = merge(raw, parse_overrides(overrides or []))
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(explain(e, model, str(path or "config"))) from None


def split_override_args(args: list[str], known: set[str]) -> tuple[list[str], list[str]]:
    """(['--a.b=v', ...], the other arguments): every `--a.b=v` (or `--a.b v`, or a bare `--a.b` meaning
    true) whose option argparse does not know is an override; options it knows are left to it."""
    overrides, rest, i = [], [], 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--") and arg.split("=", 1)[0] not in known and arg != "--":
            if "=" not in arg and i + 1 < len(args) and not args[i + 1].startswith("--"):
                arg, i = f"{arg}={args[i + 1]}", i + 1
            overrides.append(arg if "=" in arg else f"{arg}=true")
        else:
            rest.append(arg)
        i += 1
    return overrides, rest


def accept_overrides(parser: argparse.ArgumentParser) -> None:
    """Make `parser` set `--a.b=value` arguments aside as `args.overrides` (a list) before argparse parses
    the rest, so the config (not argparse) judges them and names the valid keys."""
    known = {s for action in parser._actions for s in action.option_strings}
    parse_known_args = parser.parse_known_args

    def split(args=None, namespace=None):
        overrides, rest = split_override_args(list(sys.argv[1:] if args is None else args), known)
        ns, unparsed = parse_known_args(rest, namespace)
        ns.overrides = overrides
        return ns, unparsed

    parser.parse_known_args = split  # type: ignore[method-assign]
