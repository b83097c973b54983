"""Overhead of bench's llama.cpp backend versus a bare llama-cpp-python loop, or versus llama.cpp's `llama-bench`.

Same model, prompt, threads and greedy settings; the two sides are interleaved pair by pair (order
alternating) so machine noise hits both alike. Reports paired ratios bench/reference (median, 95% bootstrap CI
of the median).

    python benchmarks/overhead.py                      # writes benchmarks/results/overhead.json
    python benchmarks/overhead.py --pairs 20 --max-tokens 128 --model bundled:gemma3-270m
    python benchmarks/overhead.py --worker              # bench's side in a worker process, as `bench run` does
    benchmarks/build_llama_bench.sh && python benchmarks/overhead.py --against llama-bench
                                                       # writes benchmarks/results/overhead-llama-bench.json

With --worker, bench's side runs in a forked child process that loads its own copy of the model, as the
process executor's workers do; the reference stays in this process. Each process is idle while the other runs.

--against llama-bench: for each model and context depth D, a pair is one llama-bench measurement
(`-p N -n 0 -d D` for prompt processing, `-p 0 -n M -d D+N` for generation, `-r 1 -o json`, same threads,
batch, flash-attention and repack settings) and one bench request whose prompt is exactly N tokens after D
cached tokens (filled untimed, as llama-bench fills its depth) and that generates M tokens. Prefill tok/s:
bench's N / TTFT against llama-bench's pp; decode tok/s: bench's (M-1) / (t_end - t_first_token) (TPOT)
against llama-bench's tg, both decoding at KV depth D+N.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.backends.base import Request, now
from bench.backends.llama_cpp import LlamaCppBackend, LlamaCppParams
from bench.machine.detect import detect_machine
from bench.metrics.stats import bootstrap_interval
from bench.suite.spec import GenerationSpec

PROMPT = ("Below is a detailed customer-support policy for a mid-sized online shop. It explains how refunds, "
          "returns, exchanges, shipping delays, damaged parcels and warranty claims are handled, step by step, "
          "with examples for each case.\n\nSection 1. Refunds.\n")
COUNTING = ", ".join(str(i) for i in range(1, 3000))
"""Source of exact-length prompts: both bundled models keep counting greedily, so M tokens come without EOS."""
MODELS = ("bundled:smollm2-135m-instruct", "bundled:gemma3-270m")
RESULTS = Path(__file__).parent / "results"


def timings(t_start: float, t_first: float, t_end: float, prompt_tokens: int, out_tokens: int) -> dict[str, float]:
    """The metric definitions of ARCHITECTURE.md (prompt_tokens: those evaluated, i.e. not cached)."""
    return {"prefill_tps": prompt_tokens / (t_first - t_start),
            "decode_tps": (out_tokens - 1) / (t_end - t_first), "out_tokens": out_tokens}


def bare(backend: LlamaCppBackend, max_tokens: int) -> dict[str, float]:
    """The plain llama-cpp-python way: create_completion(stream=True) on a reset model."""
    llm = backend.llm
    llm.reset()
    prompt_tokens = len(llm.tokenize(PROMPT.encode()))
    start, first, count = now(), 0.0, 0
    for chunk in llm.create_completion(PROMPT, max_tokens=max_tokens, temperature=0.0, top_k=0, top_p=1.0,
                                       min_p=0.0, repeat_penalty=1.0, stream=True):
        first = first or now()
        count += chunk["choices"][0]["finish_reason"] is None  # the closing chunk carries no token
    return timings(start, first, now(), prompt_tokens, count)


def completion_request(prompt: str, max_tokens: int) -> Request:
    return Request(id="x", messages=(), completion=prompt, mode="text", prompt_format="completion",
                   generation=GenerationSpec(max_tokens=max_tokens))


def through_bench(backend: LlamaCppBackend, max_tokens: int, prompt: str = PROMPT, depth: int = 0) -> dict[str, float]:
    """One request through LlamaCppBackend.generate(); with depth > 0 (needs prefix_cache) its first `depth`
    prompt tokens are evaluated untimed beforehand, so the request finds them cached."""
    request = completion_request(prompt, max_tokens)
    backend.reset_cache()
    if depth:
        backend.llm.eval(backend.prompt_tokens(request)[:depth])
    result = next(iter(backend.generate([request])))
    assert result.error is None and result.t_first_token is not None, result.error
    assert result.cached_prompt_tokens == depth, f"{result.cached_prompt_tokens} cached, not {depth}"
    # bench counts an end-of-generation token as generated (like vLLM); the bare loop never yields it
    return timings(result.t_start, result.t_first_token, result.t_end, result.prompt_tokens - depth,
                   result.completion_tokens)


def _serve(conn: Any, params: LlamaCppParams) -> None:
    """Worker side of --worker: load the model, then answer each job (through_bench's keyword arguments)."""
    backend = LlamaCppBackend(params)
    while (job := conn.recv()) is not None:
        conn.send(through_bench(backend, **job))
    backend.close()


class InWorker:
    """through_bench in a forked child process with its own backend (the process executor's situation)."""

    def __init__(self, params: LlamaCppParams) -> None:
        context: Any = multiprocessing.get_context("fork")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, params), daemon=True)
        self.process.start()

    def __call__(self, backend: LlamaCppBackend, max_tokens: int, **job: Any) -> dict[str, float]:
        self.conn.send({"max_tokens": max_tokens, **job})
        return dict(self.conn.recv())

    def close(self) -> None:
        self.conn.send(None)
        self.process.join(30)


def bare_params(model: str) -> LlamaCppParams:
    return LlamaCppParams(model=model, prefix_cache=False, n_ctx=2048)


def measure(model: str, pairs: int, warmup: int, max_tokens: int, worker: bool = False) -> dict[str, Any]:
    bench_side = InWorker(bare_params(model)) if worker else None
    backend = LlamaCppBackend(bare_params(model))
    side = bench_side or through_bench
    try:
        for _ in range(warmup):
            bare(backend, max_tokens), side(backend, max_tokens)
        rows = []
        for index in range(pairs):
            first, second = (bare, side) if index % 2 == 0 else (side, bare)
            a, b = first(backend, max_tokens), second(backend, max_tokens)
            rows.append({"bare": a if first is bare else b, "bench": b if first is bare else a})
        return {"model": model, "info": backend.info().model_dump(), "pairs": rows}
    finally:
        backend.close()
        if bench_side is not None:
            bench_side.close()


def ratios(rows: list[dict[str, Any]], metric: str, reference: str = "bare") -> dict[str, float]:
    """Median of the per-pair ratios bench/reference with a bootstrap 95% CI of that median (NaN below 10 pairs)."""
    values = [row["bench"][metric] / row[reference][metric] for row in rows]
    low, high = bootstrap_interval(values, np.median) or (float("nan"), float("nan"))  # None below its minimum n
    return {"median_ratio": statistics.median(values), "ci_low": low, "ci_high": high,
            f"{reference}_median": statistics.median(r[reference][metric] for r in rows),
            "bench_median": statistics.median(r["bench"][metric] for r in rows), "pairs": len(values)}


# --- against llama-bench -------------------------------------------------------------------------------------------

def default_llama_bench() -> Path:
    """Where benchmarks/build_llama_bench.sh puts the binary for the installed llama-cpp-python version."""
    import llama_cpp

    return Path.home() / ".cache" / "bench" / "llama-bench" / llama_cpp.__version__ / "build" / "bin" / "llama-bench"


def exact_prompt(backend: LlamaCppBackend, n_tokens: int) -> str:
    """A completion prompt that bench tokenizes to exactly n_tokens (BOS included where the model adds one).

    Raises ValueError when no cut of COUNTING round-trips to that length.
    """
    probe = completion_request(COUNTING, 1)
    tokens = backend.prompt_tokens(probe)
    has_bos = tokens[0] != backend.llm.tokenize(COUNTING.encode(), add_bos=False, special=True)[0]
    for cut in range(n_tokens, max(n_tokens - 8, 0), -1):
        text = backend.llm.detokenize(tokens[int(has_bos):cut]).decode()
        if len(backend.prompt_tokens(completion_request(text, 1))) == n_tokens:
            return str(text)
    raise ValueError(f"no counting prompt of exactly {n_tokens} tokens for {backend.params.model}")


def llama_bench_command(binary: Path, backend: LlamaCppBackend, prompt: int, gen: int, depth: int) -> list[str]:
    """llama-bench's command line for one test with the backend's own threads, batch, flash-attn and repack."""
    p = backend.params
    flags = {"-m": backend.path, "-t": backend.n_threads, "-b": p.n_batch, "-ub": min(p.n_batch, 512),
             "-fa": int(p.flash_attn), "--repack": int(backend.repack), "-p": prompt, "-n": gen, "-d": depth,
             "-r": 1, "-o": "json"}
    return [str(binary), *(str(part) for pair in flags.items() for part in pair)]


def run_llama_bench(command: list[str]) -> dict[str, Any]:
    """The one test's JSON object; RuntimeError with llama-bench's stderr tail when it fails."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"llama-bench exited {done.returncode}: {done.stderr[-2000:]}")
    tests = json.loads(done.stdout)
    assert len(tests) == 1, f"expected one llama-bench test, got {len(tests)}"
    return dict(tests[0])


class LlamaBench:
    """llama-bench's side of a pair: prompt processing at depth D, then generation at depth D + N."""

    def __init__(self, binary: Path, backend: LlamaCppBackend, shape: tuple[int, int, int]) -> None:
        prompt, gen, depth = shape
        self.commands = (llama_bench_command(binary, backend, prompt, 0, depth),
                         llama_bench_command(binary, backend, 0, gen, depth + prompt))
        self.last: list[dict[str, Any]] = []

    def __call__(self) -> dict[str, float]:
        self.last = [run_llama_bench(command) for command in self.commands]
        return {"prefill_tps": float(self.last[0]["avg_ts"]), "decode_tps": float(self.last[1]["avg_ts"])}


def interleave(bench_side: Any, reference: Any, pairs: int, warmup: int) -> list[dict[str, Any]]:
    """Pairs {"llama_bench": ..., "bench": ...}, order alternating; progress on stderr."""
    for _ in range(warmup):
        reference(), bench_side()
    rows = []
    for index in range(pairs):
        if index % 2 == 0:
            row = {"llama_bench": reference(), "bench": bench_side()}
        else:
            row = {"bench": bench_side(), "llama_bench": reference()}
        rows.append(row)
        print(f"  pair {index + 1}/{pairs}: " + ", ".join(f"{m} {row['bench'][m] / row['llama_bench'][m]:.3f}"
                                                          for m in ("prefill_tps", "decode_tps")), file=sys.stderr)
    return rows


def against_params(args: argparse.Namespace, model: str, depth: int) -> LlamaCppParams:
    return LlamaCppParams(model=model, prefix_cache=True, n_ctx=depth + args.n_prompt + args.n_gen,
                          n_threads=args.threads, flash_attn=args.flash_attn, repack=args.repack)


def measure_against(args: argparse.Namespace, model: str, depth: int) -> dict[str, Any]:
    """One (model, depth) cell of the llama-bench comparison: settings, pairs and the two ratios."""
    params = against_params(args, model, depth)
    backend = LlamaCppBackend(params)
    settings = backend.info().settings | {"repack_setting": params.repack}
    worker = InWorker(params) if args.worker else None
    prompt = exact_prompt(backend, depth + args.n_prompt)
    side = worker or through_bench
    reference = LlamaBench(args.llama_bench, backend, (args.n_prompt, args.n_gen, depth))
    try:
        rows = interleave(lambda: side(backend, args.n_gen, prompt=prompt, depth=depth), reference,
                          args.pairs, args.warmup)
    finally:
        backend.close()
        if worker is not None:
            worker.close()
    return {"model": model, "n_prompt": args.n_prompt, "n_gen": args.n_gen, "n_depth": depth,
            "bench_settings": settings,
            "llama_bench_commands": reference.commands, "llama_bench_last": reference.last, "pairs": rows,
            **{m: ratios(rows, m, "llama_bench") for m in ("prefill_tps", "decode_tps")}}


def against_llama_bench(args: argparse.Namespace) -> dict[str, Any]:
    """All (model, depth) cells; exit 2 when the llama-bench binary is missing."""
    if not args.llama_bench.is_file():
        print(f"llama-bench not found at {args.llama_bench}: build it with benchmarks/build_llama_bench.sh "
              "or pass --llama-bench PATH", file=sys.stderr)
        sys.exit(2)
    cells = []
    for model in args.models.split(","):
        for depth in (int(d) for d in args.depths.split(",")):
            print(f"{model} p{args.n_prompt} n{args.n_gen} d{depth}", file=sys.stderr)
            cells.append(measure_against(args, model, depth))
            print_ratios(f"{model} d{depth} bench/llama-bench", cells[-1], "llama_bench")
    return {"benchmark": "overhead-llama-bench", "llama_bench_build": build_info(cells[0]["llama_bench_last"][0]),
            "cells": cells}


def build_info(test: dict[str, Any]) -> dict[str, Any]:
    return {key: test.get(key) for key in ("build_commit", "build_number", "cpu_info", "backends")}


def print_ratios(label: str, result: dict[str, Any], reference: str) -> None:
    for metric in ("decode_tps", "prefill_tps"):
        r = result[metric]
        print(f"{label} {metric}: {r['median_ratio']:.3f} [95% CI {r['ci_low']:.3f}–{r['ci_high']:.3f}] "
              f"({reference} {r[f'{reference}_median']:.1f} tok/s, bench {r['bench_median']:.1f} tok/s)")


def against_bare(args: argparse.Namespace) -> dict[str, Any]:
    data = measure(args.model, args.pairs, args.warmup, args.max_tokens, args.worker)
    result = {"benchmark": "overhead", "decode_tps": ratios(data["pairs"], "decode_tps"),
              "prefill_tps": ratios(data["pairs"], "prefill_tps"), **data}
    print_ratios("bench/bare", result, "bare")
    return result


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", choices=("bare", "llama-bench"), default="bare")
    parser.add_argument("--model", default=MODELS[0], help="bare: the model")
    parser.add_argument("--pairs", type=int, default=None, help="default: 16 (bare), 12 (llama-bench)")
    parser.add_argument("--warmup", type=int, default=None, help="default: 2 (bare), 1 (llama-bench)")
    parser.add_argument("--max-tokens", type=int, default=96, help="bare: tokens generated")
    parser.add_argument("--worker", action="store_true", help="bench's side in a worker process (process executor)")
    parser.add_argument("--out", type=Path, default=None, help="default: results/overhead[-worker|-llama-bench].json")
    group = parser.add_argument_group("llama-bench")
    group.add_argument("--llama-bench", type=Path, default=default_llama_bench())
    group.add_argument("--models", default=",".join(MODELS))
    group.add_argument("--n-prompt", "-p", type=int, default=256)
    group.add_argument("--n-gen", "-n", type=int, default=64)
    group.add_argument("--depths", "-d", default="0,256", help="context depths, comma-separated")
    group.add_argument("--threads", "-t", type=int, default=None, help="default: physical cores (bench's default)")
    group.add_argument("--flash-attn", action="store_true", help="flash attention on (bench's default: off)")
    group.add_argument("--repack", choices=(True, False, "auto"), default="auto", type=repack_value)
    return parser.parse_args()


def repack_value(text: str) -> bool | str:
    return {"true": True, "false": False}.get(text, text)


def default_out(args: argparse.Namespace) -> Path:
    if args.against == "llama-bench":
        return RESULTS / f"overhead-llama-bench{'-worker' if args.worker else ''}.json"
    return RESULTS / f"overhead{'-worker' if args.worker else ''}.json"


def check_args(args: argparse.Namespace) -> str | None:
    """What is wrong with the command line (exit 2), or None."""
    try:
        depths = [int(d) for d in args.depths.split(",")]
    except ValueError:
        return f"--depths {args.depths!r}: give comma-separated whole numbers, e.g. 0,256"
    if min(depths) < 0 or args.n_prompt < 1 or args.n_gen < 2:
        return "--depths must be >= 0, --n-prompt >= 1 and --n-gen >= 2 (decode needs two tokens)"
    if (args.pairs is not None and args.pairs < 1) or (args.warmup is not None and args.warmup < 0):
        return "--pairs must be >= 1 and --warmup >= 0"
    return None


def main() -> None:
    args = parse_args()
    if (problem := check_args(args)) is not None:
        print(f"overhead.py: {problem}", file=sys.stderr)
        sys.exit(2)
    llama_bench_mode = args.against == "llama-bench"
    args.pairs = args.pairs or (12 if llama_bench_mode else 16)
    args.warmup = (1 if llama_bench_mode else 2) if args.warmup is None else args.warmup
    args.out = args.out or default_out(args)
    header = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": detect_machine(),
              "settings": vars(args) | {"out": str(args.out), "llama_bench": str(args.llama_bench)}}
    result = against_llama_bench(args) if llama_bench_mode else against_bare(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(header | result, indent=2, default=str) + "\n")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
