"""Suites as inert data: pydantic models (spec), loading with every problem at once (load, checks, problems),
the plan of cells (plan). Loading a suite imports no engine and changes no process state."""

from bench.suite.load import load_suite
from bench.suite.spec import LoadedSuite, SuiteSpec

__all__ = ["LoadedSuite", "SuiteSpec", "load_suite"]
