"""The default context window of a GGUF model: what the model supports, capped by what this machine can hold.

    n_ctx = min(context_length, floor(MEMORY_SHARE × available memory / KV bytes per token)), rounded down to a
            multiple of KV_PADDING, at least MIN_N_CTX
    KV bytes per token = n_layer × n_kv_heads × (key_length + value_length) × bytes per element

with every figure from the GGUF header (`<arch>.context_length`, `<arch>.block_count`,
`<arch>.attention.head_count_kv`, `<arch>.attention.key_length` / `value_length`, else embedding_length /
head_count), read by the `gguf` package (llama.cpp's own reader), and 2 bytes per element: llama.cpp's default
F16 KV cache. It is an upper bound: models with sliding-window layers (Gemma 3) keep fewer cells on those layers.
`available` is the memory the OS reports available when the backend loads (psutil); MEMORY_SHARE leaves the rest
for the weights, the compute buffers and everything else on the machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

FALLBACK_N_CTX = 4096
"""The window when the GGUF does not say how long a context the model supports."""
MEMORY_SHARE = 0.5
KV_BYTES_PER_ELEMENT = 2
KV_PADDING = 256
MIN_N_CTX = 512


@dataclass(frozen=True)
class ContextFacts:
    """What the GGUF header says about the model's context and KV cache shape."""

    context_length: int | None
    n_layer: int
    n_head_kv: int
    key_length: int
    value_length: int

    @property
    def kv_bytes_per_token(self) -> int:
        """n_layer × n_kv_heads × (key_length + value_length) × KV_BYTES_PER_ELEMENT."""
        return self.n_layer * self.n_head_kv * (self.key_length + self.value_length) * KV_BYTES_PER_ELEMENT


def read_context_facts(path: Path) -> ContextFacts:
    """ContextFacts from a GGUF file's metadata. Raises ValueError for a file that is not GGUF."""
    import gguf

    fields = gguf.GGUFReader(str(path)).fields
    arch = str(_value(fields, "general.architecture"))

    def number(key: str, default: int) -> int:
        value = _value(fields, f"{arch}.{key}")
        if isinstance(value, list):  # per-layer values (e.g. head_count_kv): the largest
            value = max(value, default=default)
        return int(value) if value is not None else default

    n_head = number("attention.head_count", 1)
    head_dim = number("embedding_length", 0) // max(n_head, 1)
    context = number("context_length", 0)
    return ContextFacts(context_length=context or None, n_layer=number("block_count", 0),
                        n_head_kv=number("attention.head_count_kv", n_head),
                        key_length=number("attention.key_length", head_dim),
                        value_length=number("attention.value_length", head_dim))


def _value(fields: dict[str, Any], key: str) -> Any:
    field = fields.get(key)
    return None if field is None else field.contents()


def choose_n_ctx(facts: ContextFacts, available_bytes: int) -> tuple[int, str]:
    """(n_ctx, why) by the module's formula; the reason names every input, for the manifest."""
    supported = facts.context_length or FALLBACK_N_CTX
    per_token = facts.kv_bytes_per_token
    held = int(MEMORY_SHARE * available_bytes / per_token) if per_token > 0 else supported
    n_ctx = max(MIN_N_CTX, min(supported, held) // KV_PADDING * KV_PADDING)
    source = (f"the model supports {facts.context_length}" if facts.context_length else
              f"the GGUF gives no context_length (fallback {FALLBACK_N_CTX})")
    memory = (f"{MEMORY_SHARE:.0%} of {available_bytes / 1e9:.1f} GB available holds {held} tokens of KV cache "
              f"at {per_token} bytes/token ({facts.n_layer} layers × {facts.n_head_kv} KV heads × "
              f"({facts.key_length} + {facts.value_length}) × {KV_BYTES_PER_ELEMENT} bytes)")
    return n_ctx, f"auto: {source}; {memory}"


def auto_n_ctx(path: Path) -> tuple[int, str]:
    """choose_n_ctx for a GGUF file on this machine now (psutil's available memory)."""
    import psutil

    return choose_n_ctx(read_context_facts(path), int(psutil.virtual_memory().available))
