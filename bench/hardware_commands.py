"""`bench hardware list | show ID | detect`."""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from bench.cli import EXIT_BAD_INPUT, EXIT_OK, err, out, print_json
from bench.costing import profile_usd_per_hour
from bench.hardware import detect_gpus, detect_machine, match_profile
from bench.profiles import PROFILES_DIR, HardwareProfile, load_profiles
from bench.registry import suggest


def _peak(profile: HardwareProfile) -> str:
    c = profile.compute
    if c.fp16_tflops or c.bf16_tflops:
        return f"{c.fp16_tflops or c.bf16_tflops:g} fp16"
    return f"{c.fp32_tflops:g} fp32" if c.fp32_tflops else "–"


def hardware_list(args: argparse.Namespace) -> int:
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


def hardware_detect(args: argparse.Namespace) -> int:
    machine = detect_machine()
    gpus, why = detect_gpus()
    matched = match_profile(load_profiles(), machine["cpu_model"], [g["name"] for g in gpus])
    result = machine | {"gpus": gpus, "gpu_note": why, "profile": matched}
    if args.format == "json":
        print_json(result)
        return EXIT_OK
    out.print(f"CPU: {machine['cpu_model']} ({machine['physical_cores']} physical cores, "
              f"{machine['logical_cpus']} logical), RAM {machine['ram_gb']} GB, {machine['os']}")
    out.print("GPUs: " + (", ".join(f"{g['name']} {g['memory_gb']} GB" for g in gpus) or f"none ({why})"))
    if matched:
        out.print(f"profile: {matched}")
    else:
        out.print("profile: none matches this machine. Costs use the suite's cost.usd_per_hour and an assumed "
                  "10 W per core. To add one, copy a similar file in hardware_profiles/ to "
                  "hardware_profiles/<id>.yaml, set id, name, specs with their sources and "
                  f"match: [\"{machine['cpu_model']}\"], then check it with `bench hardware show <id>`.")
    return EXIT_OK
