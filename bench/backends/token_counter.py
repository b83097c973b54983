"""Counting tokens with the served model's own tokenizer, for endpoints that send no usage.

A GGUF (bundled:NAME or a path) is opened vocabulary-only through llama.cpp and chat prompts are rendered with
its chat template; an HF folder uses transformers' tokenizer and its chat template.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

from bench.backends.base import Request
from bench.backends.llama_cpp import chat_formatter, quiet_stderr
from bench.backends.model_files import resolve_model
from bench.optional import llama_cpp, require


class TokenCounter(Protocol):
    def prompt(self, request: Request, chat: bool) -> int: ...

    def completion(self, text: str) -> int: ...


class GgufCounter:
    """Thread-safe: the backend's request threads share it."""

    def __init__(self, path: Path) -> None:
        with quiet_stderr():
            self.llm = llama_cpp().Llama(model_path=str(path), vocab_only=True, verbose=False)
        self.chat = chat_formatter(self.llm)
        self.lock = threading.Lock()

    def prompt(self, request: Request, chat: bool) -> int:
        with self.lock:
            if chat and self.chat is not None:
                rendered = self.chat(messages=list(request.messages))
                return len(self.llm.tokenize(rendered.prompt.encode(), add_bos=not rendered.added_special,
                                             special=True))
            return len(self.llm.tokenize(request.completion.encode(), add_bos=True, special=True))

    def completion(self, text: str) -> int:
        with self.lock:
            return len(self.llm.tokenize(text.encode(), add_bos=False, special=False))


class HfCounter:
    """Thread-safe: a fast tokenizer shared between threads raises 'Already borrowed'."""

    def __init__(self, folder: Path) -> None:
        transformers = require("transformers", "counting tokens with an HF tokenizer", "pip install transformers")
        self.tokenizer: Any = transformers.AutoTokenizer.from_pretrained(folder)
        self.lock = threading.Lock()

    def prompt(self, request: Request, chat: bool) -> int:
        with self.lock:
            if chat and getattr(self.tokenizer, "chat_template", None):
                text = self.tokenizer.apply_chat_template(list(request.messages), add_generation_prompt=True,
                                                          tokenize=False)
                return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
            return len(self.tokenizer(request.completion)["input_ids"])

    def completion(self, text: str) -> int:
        with self.lock:
            return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])


def load_counter(ref: str) -> TokenCounter:
    """A counter for a tokenizer reference: an HF folder, or a GGUF (bundled:NAME or a path)."""
    folder = Path(ref).expanduser()
    if folder.is_dir():
        return HfCounter(folder)
    return GgufCounter(resolve_model(ref))
