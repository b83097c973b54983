"""What llama.cpp's weight repacking is worth on this CPU: `repack: true` vs `repack: false`, paired.

`repack: auto` turns repacking off on CPUs with AMX (llama.cpp#20824). This measures, on the machine at hand,
the price of that choice: the same model loaded twice in this process (extra buffer types on / off), the same
greedy completion alternated pair by pair (order alternating), prefill and decode tok/s per pair, and the
paired ratio off/on (median, 95% bootstrap CI). On an AMX CPU, run it with a llama-cpp-python built without
the AMX kernels (see docs/performance.md) to compare "no AMX, repacked" with "AMX build, repack off".

    python benchmarks/repack.py                       # both bundled models -> benchmarks/results/repack.json
    python benchmarks/repack.py --pairs 20 --models bundled:gemma3-270m
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from overhead import ratios, through_bench

from bench.backends.llama_cpp import LlamaCppBackend, LlamaCppParams
from bench.machine.detect import detect_machine

MODELS = ("bundled:smollm2-135m-instruct", "bundled:gemma3-270m")


def measure(model: str, pairs: int, warmup: int, max_tokens: int) -> dict[str, Any]:
    """Pairs of {"bare": repack on, "bench": repack off} timings (the names ratios() expects: off/on)."""
    on = LlamaCppBackend(LlamaCppParams(model=model, prefix_cache=False, n_ctx=2048, repack=True))
    off = LlamaCppBackend(LlamaCppParams(model=model, prefix_cache=False, n_ctx=2048, repack=False))
    try:
        for _ in range(warmup):
            through_bench(on, max_tokens), through_bench(off, max_tokens)
        rows = []
        for index in range(pairs):
            order = (on, off) if index % 2 == 0 else (off, on)
            timed = {id(b): through_bench(b, max_tokens) for b in order}
            rows.append({"bare": timed[id(on)], "bench": timed[id(off)]})
        return {"model": model, "pairs": rows, "settings_on": on.info().settings,
                "settings_off": off.info().settings}
    finally:
        on.close()
        off.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--pairs", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "repack.json")
    args = parser.parse_args()
    results = []
    for model in args.models.split(","):
        data = measure(model, args.pairs, args.warmup, args.max_tokens)
        figures = {m: ratios(data["pairs"], m) for m in ("decode_tps", "prefill_tps")}
        results.append({**data, **figures})
        for metric, r in figures.items():
            print(f"{model} {metric}: off/on = {r['median_ratio']:.3f} [95% CI {r['ci_low']:.3f}–{r['ci_high']:.3f}]"
                  f" (on {r['bare_median']:.1f} tok/s, off {r['bench_median']:.1f} tok/s)")
    out = {"benchmark": "repack", "date": datetime.now(UTC).isoformat(timespec="seconds"),
           "machine": detect_machine(), "settings": vars(args) | {"out": str(args.out)}, "models": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
