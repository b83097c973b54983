"""Hardware profiles and API price tables: strict YAML with a dated source for every spec and price."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bench.errors import Problem, SpecError
from bench.suite.problems import pydantic_problems
from bench.suite.spec import supported_version
from bench.suite.yaml_io import YamlLoadError, load_yaml_strict

PROFILES_DIR = Path(__file__).resolve().parents[2] / "hardware_profiles"
PROFILE_SCHEMA_VERSIONS = (1,)
"""Versions of the hardware profile format this bench reads (field `schema_version`, 1 when absent)."""
PRICING_SCHEMA_VERSIONS = (1,)
"""Versions of the API price table format (hardware_profiles/api_pricing.yaml) this bench reads."""
DeviceClass = Literal["laptop_cpu", "desktop_cpu", "cloud_cpu", "apple_soc", "consumer_gpu", "datacenter_gpu"]


class Strict(BaseModel):
    """Base of the profile and price models: unknown keys are refused (extra="forbid"), values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(Strict):
    """Where a figure comes from: the dotted field names it backs, a URL and the date it was read."""

    fields: tuple[str, ...] = Field(min_length=1)
    url: str = Field(pattern=r"^https?://")
    retrieved: date
    note: str = ""


class Memory(Strict):
    """Memory capacity in GB and peak bandwidth in GB/s (both > 0)."""

    capacity_gb: float = Field(gt=0)
    bandwidth_gb_s: float = Field(gt=0, description="peak memory bandwidth, GB/s")


class Compute(Strict):
    """Peak dense throughput in TFLOPS (TOPS for int8), without sparsity."""

    fp32_tflops: float | None = Field(None, gt=0)
    fp16_tflops: float | None = Field(None, gt=0)
    bf16_tflops: float | None = Field(None, gt=0)
    int8_tops: float | None = Field(None, gt=0)


class Price(Strict):
    """What an hour of the machine costs: a cloud on-demand USD per hour and/or a purchase price (USD) amortized
    over lifetime_years at `utilization` (0-1]; a profile giving neither is refused."""

    cloud_usd_per_hour: float | None = Field(None, gt=0)
    cloud_offer: str = ""
    purchase_usd: float | None = Field(None, gt=0)
    lifetime_years: float = Field(4.0, gt=0)
    utilization: float = Field(0.5, gt=0, le=1)

    @model_validator(mode="after")
    def _has_a_price(self) -> Price:
        if self.cloud_usd_per_hour is None and self.purchase_usd is None:
            raise ValueError("give cloud_usd_per_hour and/or purchase_usd")
        return self


class Energy(Strict):
    """Electricity price in USD per kWh (default 0.17) and the facility's PUE (1-3, default 1)."""

    usd_per_kwh: float = Field(0.17, ge=0)
    pue: float = Field(1.0, ge=1.0, le=3.0)


class HardwareProfile(Strict):
    """One machine: memory (GB, GB/s), peak compute (TFLOPS), power (W), price ($/h or purchase $), each sourced."""

    schema_version: int = 1
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    name: str
    device_class: DeviceClass
    cores: int | None = Field(None, ge=1, description="physical CPU cores (CPU profiles)")
    match: tuple[str, ...] = Field((), description="case-insensitive substrings of the CPU model or GPU name")
    memory: Memory
    compute: Compute
    tdp_w: float = Field(gt=0)
    price: Price
    energy: Energy = Energy()
    sources: tuple[Source, ...] = Field(min_length=1)

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        return supported_version(value, PROFILE_SCHEMA_VERSIONS, "hardware profile")

    @model_validator(mode="after")
    def _every_figure_has_a_source(self) -> HardwareProfile:
        missing = sorted(set(sourced_fields(self)) - {f for s in self.sources for f in s.fields})
        if missing:
            raise ValueError(f"no source for: {', '.join(missing)}")
        return self


def sourced_fields(profile: HardwareProfile) -> list[str]:
    """Dotted names of the spec and price figures that need a source (set ones only)."""
    names = ["memory.capacity_gb", "memory.bandwidth_gb_s", "tdp_w"]
    names += [f"compute.{k}" for k, v in profile.compute.model_dump().items() if v is not None]
    names += [f"price.{k}" for k in ("cloud_usd_per_hour", "purchase_usd")
              if getattr(profile.price, k) is not None]
    return names


class ApiPrice(Strict):
    """One hosted model's list price: USD per million input and output tokens, dated (as_of) and sourced (URL)."""

    model: str
    provider: str
    input_usd_per_mtok: float = Field(ge=0)
    output_usd_per_mtok: float = Field(ge=0)
    as_of: date
    source: str = Field(pattern=r"^https?://")


class ApiPricing(Strict):
    """Hosted-model list prices, USD per million input / output tokens, each dated and sourced."""

    schema_version: int = 1
    prices: tuple[ApiPrice, ...] = Field(min_length=1)

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        return supported_version(value, PRICING_SCHEMA_VERSIONS, "API price table")


def _read(path: Path) -> object:
    try:
        return load_yaml_strict(path.read_text(encoding="utf-8"))
    except YamlLoadError as exc:
        raise SpecError([Problem(str(path), f"line {exc.line}", exc.message)]) from None
    except OSError as exc:
        raise SpecError([Problem(str(path), "", f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise SpecError([Problem(str(path), "", "not UTF-8 text", "save the file as UTF-8")]) from None


def load_profile(path: Path) -> HardwareProfile:
    """One hardware profile file, validated. SpecError with every problem (YAML line, field, a figure without
    a source, an unknown schema_version) or when its id is not the file name."""
    raw = _read(path)
    try:
        profile = HardwareProfile.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(pydantic_problems(exc, str(path), raw, HardwareProfile)) from None
    if profile.id != path.stem:
        raise SpecError([Problem(str(path), "id", f"id '{profile.id}' must equal the file name '{path.stem}'")])
    return profile


def load_profiles(directory: Path = PROFILES_DIR) -> dict[str, HardwareProfile]:
    """Every profile in the folder by id (api_pricing.yaml skipped); one SpecError with all problems of all files."""
    profiles, problems = {}, []
    for path in sorted(directory.glob("*.yaml")):
        if path.name == "api_pricing.yaml":
            continue
        try:
            profile = load_profile(path)
        except SpecError as exc:
            problems += exc.problems
            continue
        profiles[profile.id] = profile
    if problems:
        raise SpecError(problems)
    return profiles


def load_api_pricing(path: Path = PROFILES_DIR / "api_pricing.yaml") -> ApiPricing:
    """The API price table (default hardware_profiles/api_pricing.yaml), validated; SpecError with every problem."""
    raw = _read(path)
    try:
        return ApiPricing.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(pydantic_problems(exc, str(path), raw, ApiPricing)) from None
