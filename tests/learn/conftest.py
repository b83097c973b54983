"""learn tests run as bench learn-curve does: BLAS on one thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _one_blas_thread() -> Iterator[None]:
    """As bench learn-curve does (bench.learn.measure.one_blas_thread): small fits, no BLAS thread contention."""
    from bench.learn.measure import one_blas_thread

    with one_blas_thread():
        yield
