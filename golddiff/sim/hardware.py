"""GPU figures for the planner and the simulator: peak bf16 FLOP/s, HBM size and bandwidth, NVLink and NIC
bandwidth per GPU, GPUs per node, from golddiff/data/hardware.yaml (sources listed there) or a file of
your own, with field overrides.

    hw = load_hardware("h100", overrides={"inter_node_bandwidth": 50e9})

No torch; CPU only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Hardware:
    name: str
    peak_bf16_flops: float
    hbm_bytes: float
    hbm_bandwidth: float
    intra_node_bandwidth: float  # bytes/s per GPU per direction (NVLink)
    inter_node_bandwidth: float  # bytes/s per GPU per direction (IB/RoCE NIC)
    gpus_per_node: int
    sources: tuple[str, ...] = ()


@cache
def _hardware_table(path: str | None = None) -> dict:
    if path is None:
        return yaml.safe_load(resources.files("golddiff").joinpath("data/hardware.yaml").read_text())
    return yaml.safe_load(Path(path).read_text())


def load_hardware(
    gpu: str = "h100", path: str | None = None, overrides: dict[str, float] | None = None, interconnect=None
) -> Hardware:
    """The figures of `gpu` from golddiff/data/hardware.yaml (or `path`), with field overrides applied."""
    table = dict(_hardware_table()["gpus"])
    fabrics = dict(_hardware_table()["interconnects"])
    if path:
        extra = _hardware_table(path)
        table.update(extra.get("gpus", {}))
        fabrics.update(extra.get("interconnects", {}))
    if gpu not in table:
        raise ValueError(f"unknown gpu {gpu!r}: choose one of {sorted(table)} or give --hardware FILE")
    fields = dict(table[gpu])
    unknown = set(fields) - set(Hardware.__dataclass_fields__)
    if unknown:
        raise ValueError(f"hardware {gpu!r}: unknown fields {sorted(unknown)}")
    hw = _typed_hardware(fields)
    if interconnect is not None:
        hw = replace(hw, inter_node_bandwidth=_fabric_bandwidth(str(interconnect), fabrics))
    for key, value in (overrides or {}).items():
        if key not in Hardware.__dataclass_fields__ or key in ("name", "sources"):
            raise ValueError(f"--hw {key}: not a hardware field ({', '.join(Hardware.__dataclass_fields__)})")
        hw = replace(hw, **{key: int(value) if key == "gpus_per_node" else float(value)})
    return hw


def _typed_hardware(fields: dict) -> Hardware:
    """YAML 1.1 reads `989.5e12` as a string: convert every figure explicitly."""
    numbers = {k: float(v) for k, v in fields.items() if k not in ("name", "sources", "gpus_per_node")}
    return Hardware(
        name=str(fields.get("name", "custom")),
        gpus_per_node=int(fields.get("gpus_per_node", 8)),
        sources=tuple(fields.get("sources", ())),
        **numbers,
    )


def _fabric_bandwidth(name: str, fabrics: dict) -> float:
    if name in fabrics:
        return float(fabrics[name])  # may be a string in YAML 1.1
    try:
        return float(name) * 1e9 / 8  # Gbit/s per GPU
    except ValueError:
        raise ValueError(f"unknown interconnect {name!r}: {sorted(fabrics)} or Gbit/s per GPU") from None
