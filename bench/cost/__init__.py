"""Pricing: pure cost formulas, cost rows per hardware profile and API, projection, hardware profiles."""
