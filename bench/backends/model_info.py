"""What a GGUF model is: architecture, parameters, quantization, size and sha256, read from the file."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import optional
from bench.backends.llama_load import load_llama, resolve_repack
from bench.backends.model_files import BUNDLED, BUNDLED_PREFIX, file_sha256, resolve_model


@dataclass(frozen=True)
class ModelInfo:
    ref: str
    path: str
    architecture: str
    name: str
    parameters: int
    quantization: str
    file_size_bytes: int
    sha256: str
    context_length: int | None
    chat_template: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_model_info(ref: str) -> ModelInfo:
    """Load the GGUF with llama.cpp (weights memory-mapped, tiny context) and read its metadata."""
    llama_cpp = optional.llama_cpp()
    path = resolve_model(ref)
    llm = load_llama(llama_cpp, resolve_repack("auto")[0], model_path=str(path), n_ctx=64, n_threads=1, verbose=False)
    try:
        meta: dict[str, str] = dict(llm.metadata)
        arch = meta.get("general.architecture", "unknown")
        desc = _model_desc(llama_cpp, llm.model)
        context = meta.get(f"{arch}.context_length")
        return ModelInfo(ref=ref, path=str(path), architecture=arch, name=meta.get("general.name", path.stem),
                         parameters=int(llama_cpp.llama_model_n_params(llm.model)),
                         quantization=desc.split(" ", 2)[-1] if desc.count(" ") >= 2 else desc,
                         file_size_bytes=path.stat().st_size, sha256=file_sha256(path),
                         context_length=int(context) if context else None,
                         chat_template="tokenizer.chat_template" in meta)
    finally:
        llm.close()


def _model_desc(llama_cpp: Any, model: Any) -> str:
    """llama.cpp's own description, e.g. 'gemma3 270M Q4_K - Medium'."""
    import ctypes

    buffer = ctypes.create_string_buffer(256)
    llama_cpp.llama_model_desc(model, buffer, ctypes.sizeof(buffer))
    return buffer.value.decode("utf-8", "replace")


def bundled_refs() -> list[str]:
    return [BUNDLED_PREFIX + name for name in BUNDLED]


def local_path(ref: str) -> Path:
    return resolve_model(ref)
