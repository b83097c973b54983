"""Metric names, aliases and the --fail-on rule syntax."""

from __future__ import annotations

import re

SAMPLE_METRICS = ("e2e_latency_s", "ttft_s", "tpot_s", "decode_tps", "prefill_tps")
CELL_METRICS = ("tasks_per_s", "usd_per_1000_tasks", "peak_rss_gb")
THROUGHPUT_DERIVED = {"tasks_per_s": False, "usd_per_1000_tasks": True}
"""Cell metrics tested on per-item throughput samples -> whether the metric is the inverse of throughput."""
GAP_SAMPLES = "completion_gap_s"
"""Per item (every status): time from the previous completion (or the segment start) to its own; the last item
of a segment also gets the time to the segment's end, so the gaps of a cell sum to its measured wall time."""
OK_SAMPLES = "completion_ok"
"""Per item, aligned with GAP_SAMPLES: 1.0 when it succeeded (status ok), else 0.0."""
DEFAULT_RULES = ("accuracy:-2pp", "error_rate:+2pp", "latency:+10%", "ttft:+10%", "tpot_s_p50:+10%",
                 "decode_tps:-10%", "prefill_tps_p50:-10%", "tasks_per_s:-10%", "usd_per_1000:+10%")
"""The policy without --fail-on (after asv: a change fails only when significant AND beyond a factor): quality
2 points worse (the task's primary metric; errors 2 points more frequent), speed and cost 10% worse."""
ALIASES = {"decode_tps": "decode_tps_p50", "ttft": "ttft_s_p50", "latency": "e2e_latency_s_p50",
           "usd_per_1000": "usd_per_1000_tasks"}
PRIMARY_ALIAS = "accuracy"
GROUP_ORDER = {"quality": 0, "performance": 1, "cost": 2, "memory": 3}
RULE_PATTERN = re.compile(r"^\s*(?P<metric>[A-Za-z0-9_.\-]+)\s*:\s*(?P<sign>[+-])\s*"
                          r"(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>pp|%)\s*$")
RULE_HINT = ('a rule is METRIC:±Npp (percentage points, for ratios such as accuracy) or METRIC:±N% (relative), '
             'e.g. "accuracy:-2pp", "latency:+10%", "decode_tps:-10%"')
