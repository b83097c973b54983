"""A GGUF model as a Hugging Face folder (config, tokenizer, safetensors) for engines that load HF folders (vLLM).

transformers reads and de-quantizes the GGUF (`from_pretrained(dir, gguf_file=...)`); the folder is written
once per GGUF content hash under the bench cache (~/.cache/bench/hf) and reused. Two details make vLLM load
it correctly: the config loses its `quantization_config` (the weights are de-quantized) and names the
causal-LM architecture; with tied embeddings only `model.embed_tokens.weight` is written (writing
`lm_head.weight` instead makes vLLM emit token 0).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.backends.model_files import cache_dir, file_sha256, resolve_model
from bench.errors import BackendError
from bench.optional import require

INSTALL = "pip install -e '.[vllm]'"


def cache_root() -> Path:
    return cache_dir() / "hf"


def hf_folder(model: str) -> Path:
    """An HF folder for `model`: used as is if it is one, else converted from the GGUF (bundled:NAME or a path)."""
    candidate = Path(model).expanduser()
    if candidate.is_dir():
        if not (candidate / "config.json").is_file():
            raise BackendError(f"{candidate} is not a Hugging Face model folder (no config.json)")
        return candidate
    gguf = resolve_model(model)
    target = cache_root() / f"{gguf.stem}-{file_sha256(gguf)[:16]}"
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:  # one conversion at a time (Ray cells)
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "config.json").is_file():
            _convert_in_child(gguf, target)
    return target


def _convert_in_child(gguf: Path, target: Path) -> None:
    """Convert in a separate process: transformers' float32 copy of the model never inflates this one."""
    done = subprocess.run([sys.executable, "-m", "bench.backends.hf_export", str(gguf), str(target)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise BackendError(f"converting {gguf.name} for vLLM failed: {lines[-1] if lines else done.returncode}")


def convert_gguf(gguf: Path, target: Path) -> None:
    """De-quantize a GGUF into an HF folder at `target`, atomically (a half-written folder is never used)."""
    transformers = require("transformers", "converting a GGUF for vLLM", INSTALL)
    require("gguf", "converting a GGUF for vLLM", INSTALL)
    safetensors_torch = require("safetensors.torch", "converting a GGUF for vLLM", INSTALL)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # always de-quantized: with the `kernels` package transformers would keep packed GGUF blocks
        model = transformers.AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name,
            quantization_config=transformers.GgufConfig(gguf_file=gguf.name, dequantize=True))
        tokenizer.save_pretrained(work)
        if model.generation_config is not None:
            model.generation_config.save_pretrained(work)
        state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
        if model.config.tie_word_embeddings:
            state.pop("lm_head.weight", None)
        packed = [name for name, tensor in state.items() if not tensor.is_floating_point()]
        if packed:
            raise BackendError(f"converting {gguf.name}: {len(packed)} tensors stayed quantized "
                               f"(e.g. {packed[0]}); transformers did not de-quantize this GGUF")
        safetensors_torch.save_file(state, str(work / "model.safetensors"), metadata={"format": "pt"})
        _write_config(model, work / "config.json")
        work.chmod(0o755)
        if target.exists():  # left by an interrupted conversion (it has no config.json)
            shutil.rmtree(target)
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _write_config(model: object, path: Path) -> None:
    config = model.config.to_dict()  # type: ignore[attr-defined]
    config.pop("quantization_config", None)
    config.pop("_model_name_or_path", None)
    config["architectures"] = [type(model).__name__]
    path.write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")


if __name__ == "__main__":
    try:
        convert_gguf(Path(sys.argv[1]), Path(sys.argv[2]))
    except BackendError as exc:
        sys.exit(str(exc))
