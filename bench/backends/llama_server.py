"""llama-cpp-python's OpenAI-compatible server with bench's `repack` rule (see bench.backends.llama_load).

    python -m bench.backends.llama_server [--repack auto|true|false] --model FILE --port 8000 ...

Every other argument goes to `python -m llama_cpp.server` unchanged. `auto` (default) turns llama.cpp's weight
repacking off on CPUs with AMX, where repacked weights crash the AMX kernels (llama.cpp#20824).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bench.backends.llama_load import resolve_repack, set_repack_globally
from bench.backends.params import RepackSetting
from bench.optional import llama_cpp

REPACK_VALUES: dict[str, RepackSetting] = {"auto": "auto", "true": True, "false": False}


def split_repack(argv: Sequence[str]) -> tuple[RepackSetting, list[str]]:
    """Take `--repack VALUE` (or `--repack=VALUE`) out of argv. SystemExit(2) for a value not in auto/true/false."""
    rest, setting, args = [], "auto", list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--repack" or arg.startswith("--repack="):
            value = arg.partition("=")[2] if "=" in arg else (args.pop(0) if args else "")
            if value.lower() not in REPACK_VALUES:
                sys.exit(f"--repack: '{value}' is not allowed; use auto, true or false")
            setting = value.lower()
            continue
        rest.append(arg)
    return REPACK_VALUES[setting], rest


def main(argv: Sequence[str] | None = None) -> None:
    setting, rest = split_repack(sys.argv[1:] if argv is None else argv)
    lib = llama_cpp()
    repack, reason = resolve_repack(setting)
    set_repack_globally(lib, repack)
    print(f"bench: llama.cpp weight repacking {'on' if repack else 'off'} ({reason})", file=sys.stderr)
    from llama_cpp.server.__main__ import main as server_main

    sys.argv = ["llama_cpp.server", *rest]
    server_main()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
