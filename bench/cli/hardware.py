"""`bench hardware list | show ID | detect`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table

from bench.cli.output import EXIT_BAD_INPUT, EXIT_OK, err, out, print_json
from bench.cost.profiles import PROFILES_DIR, HardwareProfile, load_profiles
from bench.cost.rows import profile_usd_per_hour
from bench.machine.detect import detect_gpus, detect_machine, match_profile
from bench.registry import suggest


def _peak(profile: HardwareProfile) -> str:
    c = profile.compute
    if c.fp16_tflops or c.bf16_tflops:
        return f"{c.fp16_tflops or c.bf16_tflops:g} fp16"
    return f"{c.fp32_tflops:g} fp32" if c.fp32_tflops else "–"


def hardware_list(args: argparse.Namespace) -> int:
    """`bench hardware list`: every profile (memory GB, bandwidth GB/s, peak TFLOPS, TDP W, USD per hour,
    number of sources) as a table or JSON; exit 0. SpecError (exit 2) for a broken profile file."""
    profiles = load_profiles()
    if args.format == "json":
        print_json({pid: p.model_dump(mode="json") for pid, p in profiles.items()})
        return EXIT_OK
    table = Table(title=f"hardware profiles ({len(profiles)}, {PROFILES_DIR})", title_justify="left")
    for column in ("id", "class", "memory GB", "bandwidth GB/s", "peak TFLOPS", "TDP W", "$/hour", "sources"):
        table.add_column(column, justify="left" if column in {"id", "class"} else "right")
    for profile in profiles.values():
        usd, _ = profile_usd_per_hour(profile)
        table.add_row(profile.id, profile.device_class, f"{profile.memory.capacity_gb:g}",
                      f"{profile.memory.bandwidth_gb_s:g}", _peak(profile), f"{profile.tdp_w:g}", f"{usd:.4f}",
                      str(len(profile.sources)))
    out.print(table)
    return EXIT_OK


def hardware_show(args: argparse.Namespace) -> int:
    """`bench hardware show ID`: one profile in full as JSON, with its usd_per_hour and its basis; exit 0, or
    exit 2 with a 'did you mean' line for an unknown id."""
    profiles = load_profiles()
    if args.id not in profiles:
        err.print(f"error: unknown hardware profile '{args.id}' ({suggest(args.id, list(profiles))})", markup=False)
        return EXIT_BAD_INPUT
    profile = profiles[args.id]
    usd, basis = profile_usd_per_hour(profile)
    data = profile.model_dump(mode="json") | {"usd_per_hour": usd, "usd_per_hour_basis": basis}
    if args.format == "json":
        print_json(data)
    else:
        out.print_json(json.dumps(data))
    return EXIT_OK


def _llama_line(build: dict[str, Any] | None) -> str:
    """llama.cpp's compiled/detected CPU features (value 1) and its other facts, as one line."""
    if build is None:
        return "llama.cpp: llama-cpp-python not installed"
    info = build["system_info"]
    on = [key for key, value in info.items() if value == "1"]
    other = [f"{key}={value}" for key, value in info.items() if value not in {"0", "1"}]
    return f"llama.cpp {build['version']}: " + " ".join(on + other)


def hardware_detect(args: argparse.Namespace) -> int:
    """`bench hardware detect`: this machine's CPU, cores, RAM GB, ISA, GPUs (GB) and llama.cpp build, and the
    profile that matches it (or how to add one); exit 0."""
    machine = detect_machine()
    gpus, why = detect_gpus()
    matched = match_profile(load_profiles(), machine["cpu_model"], [g["name"] for g in gpus])
    result = machine | {"gpus": gpus, "gpu_note": why, "profile": matched}
    if args.format == "json":
        print_json(result)
        return EXIT_OK
    out.print(f"CPU: {machine['cpu_model']} ({machine['physical_cores']} physical cores, "
              f"{machine['logical_cpus']} logical), RAM {machine['ram_gb']} GB, {machine['os']}")
    out.print("ISA: " + (" ".join(machine["isa"]) or "none of the extensions engines dispatch on"))
    out.print("GPUs: " + (", ".join(f"{g['name']} {g['memory_gb']} GB" for g in gpus) or f"none ({why})"))
    out.print(_llama_line(machine.get("llama_cpp")), markup=False, highlight=False)
    if matched:
        out.print(f"profile: {matched}")
    elif not any(ch.isdigit() for ch in machine["cpu_model"]):  # a masked name ("AMD EPYC") would match them all
        out.print(f"profile: none matches this machine: its CPU reports only \"{machine['cpu_model']}\", no part "
                  "number, so no profile can claim it honestly. Price it with cost.profile: <id> in the suite (the "
                  "cloud instance it runs on, see bench hardware list) or cost.usd_per_hour.")
    else:
        out.print("profile: none matches this machine. Costs use the suite's cost.usd_per_hour and an assumed "
                  "10 W per core. To add one, copy a similar file in hardware_profiles/ to "
                  "hardware_profiles/<id>.yaml, set id, name, specs with their sources and "
                  f"match: [\"{machine['cpu_model']}\"], then check it with `bench hardware show <id>`.")
    return EXIT_OK


def hardware(args: argparse.Namespace) -> int:
    """`bench hardware list|show|detect`."""
    handler = {"list": hardware_list, "show": hardware_show, "detect": hardware_detect}[args.hardware_command]
    return handler(args)
