"""Routing replay over per-item records: pair a small and a large model's records item by item, replay routing
policies (a confidence threshold, always-small, always-large, random, oracle) and measure them with RouteLLM's
metrics, hybrid latency and cost (docs/routing.md). No model is run again."""
