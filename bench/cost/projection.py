"""Roofline projection of a measured cell onto hardware that is not here, calibrated on this machine.

decode seconds/token  = n_layer x overhead_per_layer + bytes read per token / (bandwidth x bw_efficiency)
prefill seconds/token = 2 x non-embedding parameters / (peak FLOPS x flops_efficiency)
An item's projected time = prefill tokens x prefill s/token + decode steps x decode s/token + host residual,
where the host residual is what this machine spent beyond its own roofline (sampling, grammar, Python).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from bench.cost.profiles import HardwareProfile

RUNTIME_OVERHEAD_GB = 0.25
GPU_CLASSES = {"consumer_gpu", "datacenter_gpu", "apple_soc"}
# Assumptions where nothing was measured; docs/projection.md explains them. (bw_eff, fl_eff, s per layer)
CLASS_DEFAULTS: dict[str, tuple[float, float, float]] = {
    "cpu": (0.8, 0.3, 150e-6),
    "gpu": (0.7, 0.35, 20e-6),
}


@dataclass(frozen=True)
class ModelShape:
    """What the roofline needs of a model: file size (bytes), parameters, layers, embedding width, vocabulary,
    KV heads and head width."""

    size_bytes: int
    n_params: int
    n_layer: int
    n_embd: int
    n_vocab: int
    n_head_kv: int
    head_dim: int

    @classmethod
    def from_backend_info(cls, info: dict[str, Any]) -> ModelShape | None:
        """The shape from a backend's info (settings.arch, model_size_bytes, model_params); None when the
        backend reports no architecture (only the llama_cpp backend does)."""
        settings = info.get("settings", {})
        arch = settings.get("arch")
        if not arch or "model_size_bytes" not in settings:
            return None
        return cls(size_bytes=settings["model_size_bytes"], n_params=settings["model_params"],
                   n_layer=arch["n_layer"], n_embd=arch["n_embd"], n_vocab=arch["n_vocab"],
                   n_head_kv=arch["n_head_kv"], head_dim=arch["head_dim"])

    @property
    def non_embedding_params(self) -> int:
        """Parameters used per prompt token (the embedding lookup reads one row; logits come at the end):
        n_params - n_vocab x n_embd, at least a tenth of n_params."""
        return max(self.n_params - self.n_vocab * self.n_embd, self.n_params // 10)

    def kv_bytes_per_token(self) -> int:
        """KV cache bytes per token of context: 2 (K and V) x n_layer x n_head_kv x head_dim x 2 bytes (f16)."""
        return 2 * self.n_layer * self.n_head_kv * self.head_dim * 2  # K and V, f16


@dataclass(frozen=True)
class Device:
    """What the roofline needs of a machine, and how sure we are of each part."""

    bandwidth_gb_s: float
    flops: float | None
    bw_efficiency: float
    fl_efficiency: float
    overhead_s_per_layer: float
    memory_gb: float
    basis: str

    def decode_s(self, shape: ModelShape, context: int = 0) -> float:
        """Decode seconds per token = n_layer x overhead_s_per_layer + (weights + KV bytes of `context` tokens) /
        (bandwidth (GB/s) x 1e9 x bw_efficiency) (module docstring, docs/projection.md "The model")."""
        read = shape.size_bytes + shape.kv_bytes_per_token() * context
        return shape.n_layer * self.overhead_s_per_layer + read / (self.bandwidth_gb_s * 1e9 * self.bw_efficiency)

    def prefill_s(self, shape: ModelShape) -> float | None:
        """Prefill seconds per prompt token = 2 x non-embedding parameters / (FLOPS x fl_efficiency) (module
        docstring, docs/projection.md); None when the device has no FLOPS figure."""
        if self.flops is None:
            return None
        return 2 * shape.non_embedding_params / (self.flops * self.fl_efficiency)


def calibrate(shape: ModelShape, decode_s: float, prefill_s: float | None, bandwidth_gb_s: float,
              flops: float, memory_gb: float) -> Device:
    """This machine as a Device whose roofline reproduces the measured decode and prefill times of `shape`.

    The bandwidth efficiency is the CPU class default; the per-layer overhead absorbs the rest of the decode
    time (if decode beats that roofline, the overhead is zero and the efficiency is raised to match).
    Prefill gives the FLOPS efficiency.
    """
    bw_eff, fl_eff, _ = CLASS_DEFAULTS["cpu"]
    streaming = shape.size_bytes / (bandwidth_gb_s * 1e9 * bw_eff)
    overhead = (decode_s - streaming) / shape.n_layer
    if overhead < 0:
        overhead, bw_eff = 0.0, shape.size_bytes / (bandwidth_gb_s * 1e9 * decode_s)
    if prefill_s:
        fl_eff = 2 * shape.non_embedding_params / (flops * prefill_s)
    return Device(bandwidth_gb_s, flops, bw_eff, fl_eff, overhead, memory_gb, "calibrated on this machine")


def device_for(profile: HardwareProfile, here: Device | None) -> Device:
    """A profile as a Device: CPU profiles reuse this machine's calibrated efficiencies, GPUs class defaults."""
    gpu = profile.device_class in GPU_CLASSES
    compute = profile.compute
    flops_tera = (compute.fp16_tflops or compute.bf16_tflops or compute.fp32_tflops) if gpu else compute.fp32_tflops
    bw_eff, fl_eff, overhead = CLASS_DEFAULTS["gpu" if gpu else "cpu"]
    basis = "class defaults (GPU)" if gpu else "class defaults (CPU)"
    if here is not None and not gpu:
        bw_eff, fl_eff, overhead = here.bw_efficiency, here.fl_efficiency, here.overhead_s_per_layer
        basis = "efficiencies calibrated on this machine"
    return Device(profile.memory.bandwidth_gb_s, flops_tera * 1e12 if flops_tera else None, bw_eff, fl_eff,
                  overhead, profile.memory.capacity_gb, basis)


def memory_needed_gb(shape: ModelShape, n_ctx: int) -> float:
    """GB needed: (weights + a full f16 KV cache for the run's n_ctx tokens) / 1e9 + RUNTIME_OVERHEAD_GB (0.25)
    (docs/projection.md, "Memory fit")."""
    return (shape.size_bytes + shape.kv_bytes_per_token() * n_ctx) / 1e9 + RUNTIME_OVERHEAD_GB


@dataclass(frozen=True)
class ItemWork:
    """What one measured item asked of the engine, and how long it took here."""

    prefill_tokens: int
    decode_steps: int
    measured_s: float
    ttft_s: float


@dataclass(frozen=True)
class ItemWorks:
    """ItemWork of many items as aligned arrays (one entry per item)."""

    prefill_tokens: np.ndarray
    decode_steps: np.ndarray
    measured_s: np.ndarray
    ttft_s: np.ndarray

    def __len__(self) -> int:
        return int(self.measured_s.size)

    def __iter__(self) -> Iterator[ItemWork]:
        for i in range(len(self)):
            yield ItemWork(int(self.prefill_tokens[i]), int(self.decode_steps[i]), float(self.measured_s[i]),
                           float(self.ttft_s[i]))

    @classmethod
    def of(cls, items: Sequence[ItemWork] | ItemWorks) -> ItemWorks:
        """`items` as aligned arrays (int64 token counts, float seconds); an ItemWorks is returned as it is."""
        if isinstance(items, ItemWorks):
            return items
        return cls(np.array([i.prefill_tokens for i in items], dtype=np.int64),
                   np.array([i.decode_steps for i in items], dtype=np.int64),
                   np.array([i.measured_s for i in items], dtype=float),
                   np.array([i.ttft_s for i in items], dtype=float))


def project_seconds(items: Sequence[ItemWork] | ItemWorks, here: Device, there: Device,
                    shape: ModelShape) -> float | None:
    """Total seconds the items would take on `there`, keeping this machine's unexplained host residual (summed in
    item order, as a running total); None when either device has no FLOPS figure. Per item (module docstring,
    docs/projection.md): prefill tokens x prefill s/token + decode steps x decode s/token + max(measured -
    modeled here, 0)."""
    pre_here, pre_there = here.prefill_s(shape), there.prefill_s(shape)
    if pre_here is None or pre_there is None:
        return None
    dec_here, dec_there = here.decode_s(shape), there.decode_s(shape)
    work = ItemWorks.of(items)
    modeled_here = work.prefill_tokens * pre_here + work.decode_steps * dec_here
    residual = np.maximum(work.measured_s - modeled_here, 0.0)
    terms = work.prefill_tokens * pre_there + work.decode_steps * dec_there + residual
    return float(np.cumsum(terms)[-1]) if terms.size else 0.0


def describe(device: Device) -> dict[str, Any]:
    """The device's fields as a dict (GB/s, FLOPS, efficiencies, s per layer, GB, basis), for a cost row's inputs."""
    return asdict(device)
