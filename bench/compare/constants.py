"""Metric names, aliases and the --fail-on rule syntax."""

from __future__ import annotations

import re

SAMPLE_METRICS = ("e2e_latency_s", "ttft_s", "tpot_s", "decode_tps", "prefill_tps")
CELL_METRICS = ("tasks_per_s", "usd_per_1000_tasks", "peak_rss_gb")
E2E_DERIVED = {"tasks_per_s": True, "usd_per_1000_tasks": False}  # metric -> inverse of mean e2e latency?
ALIASES = {"decode_tps": "decode_tps_p50", "ttft": "ttft_s_p50", "latency": "e2e_latency_s_p50",
           "usd_per_1000": "usd_per_1000_tasks"}
PRIMARY_ALIAS = "accuracy"
GROUP_ORDER = {"quality": 0, "performance": 1, "cost": 2, "memory": 3}
RULE_PATTERN = re.compile(r"^\s*(?P<metric>[A-Za-z0-9_.\-]+)\s*:\s*(?P<sign>[+-])\s*"
                          r"(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>pp|%)\s*$")
RULE_HINT = ('a rule is METRIC:±Npp (percentage points, for ratios such as accuracy) or METRIC:±N% (relative), '
             'e.g. "accuracy:-2pp", "latency:+10%", "decode_tps:-10%"')
