"""Built-in seeded dataset generators, registered by name.

A generator is ``fn(n: int, seed: int) -> list[Item]``: the same (n, seed) always gives the same items.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.registry import Registry
from bench.tasks.items import Item

Generator = Callable[[int, int], list[Item]]

GENERATORS: Registry[Generator] = Registry("generator", "bench.generators")
GENERATORS.add("invoices", "bench.tasks.generators.invoices:generate_invoices")
