"""The machine bench runs on: detection (CPU, ISA, GPUs), calibration, provenance."""
