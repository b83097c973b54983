"""bench: benchmark and cost-compare language models on your own business tasks."""

__all__ = ["__version__"]
__version__ = "0.1.0"
