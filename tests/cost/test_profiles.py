"""Tests for bench.cost.profiles: the shipped hardware profiles and API prices load, and bad files fail loudly."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.cost.profiles import (
    PROFILES_DIR,
    HardwareProfile,
    load_api_pricing,
    load_profile,
    load_profiles,
    sourced_fields,
)
from bench.errors import SpecError

SHIPPED = sorted(p for p in PROFILES_DIR.glob("*.yaml") if p.name != "api_pricing.yaml")

VALID: dict[str, Any] = {
    "id": "test-box",
    "name": "Test box",
    "device_class": "desktop_cpu",
    "cores": 8,
    "match": ["Test CPU 9000"],
    "memory": {"capacity_gb": 32, "bandwidth_gb_s": 50},
    "compute": {"fp32_tflops": 1.0},
    "tdp_w": 65,
    "price": {"purchase_usd": 500},
    "sources": [{"fields": ["memory.capacity_gb", "memory.bandwidth_gb_s", "tdp_w", "compute.fp32_tflops",
                            "price.purchase_usd"],
                 "url": "https://example.com/spec", "retrieved": "2026-01-01"}],
}


def profile(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    data.update(changes)
    return data


def write(folder: Path, name: str, data: dict[str, Any]) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_there_are_shipped_profiles() -> None:
    assert len(SHIPPED) >= 14


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_profile_loads_with_dated_sources(path: Path) -> None:
    loaded = load_profile(path)
    assert loaded.id == path.stem
    assert len(loaded.sources) >= 1
    for source in loaded.sources:
        assert source.url.startswith(("http://", "https://"))
        assert isinstance(source.retrieved, date)
    # every figure that needs a source has one
    covered = {f for s in loaded.sources for f in s.fields}
    assert set(sourced_fields(loaded)) <= covered


def test_load_profiles_covers_every_device_class() -> None:
    profiles = load_profiles()
    assert len(profiles) >= 14
    assert set(profiles) == {p.stem for p in SHIPPED}
    classes = {p.device_class for p in profiles.values()}
    assert {"laptop_cpu", "desktop_cpu", "cloud_cpu", "consumer_gpu", "datacenter_gpu"} <= classes


def test_api_pricing_loads() -> None:
    pricing = load_api_pricing()
    assert len(pricing.prices) >= 8
    for price in pricing.prices:
        assert price.source.startswith(("http://", "https://"))
        assert price.input_usd_per_mtok >= 0 and price.output_usd_per_mtok >= 0
    assert len({(p.provider, p.model) for p in pricing.prices}) == len(pricing.prices)


def test_a_valid_hand_made_profile_loads(tmp_path: Path) -> None:
    write(tmp_path, "test-box", profile())
    loaded = load_profiles(tmp_path)
    assert list(loaded) == ["test-box"]
    box = loaded["test-box"]
    assert isinstance(box, HardwareProfile)
    # defaults: 4 years at 50% use, $0.17/kWh, PUE 1.0
    assert (box.price.lifetime_years, box.price.utilization) == (4.0, 0.5)
    assert (box.energy.usd_per_kwh, box.energy.pue) == (0.17, 1.0)


def test_api_pricing_file_is_not_read_as_a_profile(tmp_path: Path) -> None:
    write(tmp_path, "test-box", profile())
    (tmp_path / "api_pricing.yaml").write_text("prices: []\n")
    assert list(load_profiles(tmp_path)) == ["test-box"]


def test_figure_without_a_source_names_the_field(tmp_path: Path) -> None:
    data = profile(compute={"fp32_tflops": 1.0, "fp16_tflops": 2.0})  # fp16 has no source
    path = write(tmp_path, "test-box", data)
    with pytest.raises(SpecError) as info:
        load_profile(path)
    assert "compute.fp16_tflops" in str(info.value)
    assert "compute.fp32_tflops" not in str(info.value)


def test_price_without_a_source_names_the_field(tmp_path: Path) -> None:
    data = profile(price={"purchase_usd": 500, "cloud_usd_per_hour": 0.3})
    with pytest.raises(SpecError, match=r"price\.cloud_usd_per_hour"):
        load_profile(write(tmp_path, "test-box", data))


def test_unknown_key_suggests_a_profile_field(tmp_path: Path) -> None:
    data = profile()
    data["tdp_watts"] = data.pop("tdp_w")
    with pytest.raises(SpecError) as info:
        load_profile(write(tmp_path, "test-box", data))
    problems = info.value.problems
    unknown = [p for p in problems if p.location == "tdp_watts"]
    assert len(unknown) == 1
    assert unknown[0].message == "unknown key"
    assert "did you mean 'tdp_w'" in unknown[0].hint


def test_unknown_nested_key_suggests_a_memory_field(tmp_path: Path) -> None:
    data = profile(memory={"capacity_gb": 32, "bandwidth_gbs": 50})
    with pytest.raises(SpecError) as info:
        load_profile(write(tmp_path, "test-box", data))
    text = str(info.value)
    assert "bandwidth_gbs" in text and "did you mean 'bandwidth_gb_s'" in text


def test_id_must_equal_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, "other-name", profile())
    with pytest.raises(SpecError) as info:
        load_profile(path)
    (problem,) = info.value.problems
    assert problem.location == "id"
    assert "test-box" in problem.message and "other-name" in problem.message


def test_price_needs_cloud_or_purchase(tmp_path: Path) -> None:
    data = profile(price={"lifetime_years": 4})
    data["sources"][0]["fields"].remove("price.purchase_usd")
    with pytest.raises(SpecError) as info:
        load_profile(write(tmp_path, "test-box", data))
    assert "cloud_usd_per_hour" in str(info.value) and "purchase_usd" in str(info.value)


def test_source_url_must_be_http(tmp_path: Path) -> None:
    data = profile()
    data["sources"][0]["url"] = "example.com/spec"
    with pytest.raises(SpecError, match="url"):
        load_profile(write(tmp_path, "test-box", data))


def test_problems_of_every_bad_file_are_reported_together(tmp_path: Path) -> None:
    write(tmp_path, "good-box", profile(id="good-box"))
    write(tmp_path, "bad-id", profile())                              # id != file name
    unsourced = profile(id="no-source", tdp_w=90, compute={"fp32_tflops": 1.0, "int8_tops": 4.0})
    write(tmp_path, "no-source", unsourced)                           # int8 figure without a source
    typo = profile(id="typo")
    typo["device_clas"] = typo.pop("device_class")
    write(tmp_path, "typo", typo)                                     # unknown key (and the real one missing)
    (tmp_path / "broken.yaml").write_text("id: [unclosed\n")          # not YAML at all
    with pytest.raises(SpecError) as info:
        load_profiles(tmp_path)
    files = {Path(p.file).name for p in info.value.problems}
    assert {"bad-id.yaml", "no-source.yaml", "typo.yaml", "broken.yaml"} <= files
    assert "good-box.yaml" not in files
    text = str(info.value)
    assert "compute.int8_tops" in text
    assert "did you mean 'device_class'" in text


def test_missing_folder_gives_no_profiles(tmp_path: Path) -> None:
    assert load_profiles(tmp_path / "nothing-here") == {}


def test_api_pricing_without_prices_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "api_pricing.yaml"
    path.write_text("prices: []\n")
    with pytest.raises(SpecError, match="prices"):
        load_api_pricing(path)


def test_api_price_unknown_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "api_pricing.yaml"
    path.write_text(yaml.safe_dump({"prices": [{
        "model": "m", "provider": "p", "input_usd_per_mtok": 1, "output_usd_per_mtok": 2,
        "as_of": "2026-01-01", "source": "https://example.com", "output_usd_per_mtoken": 3}]}))
    with pytest.raises(SpecError) as info:
        load_api_pricing(path)
    assert "output_usd_per_mtoken" in str(info.value)


# --- schema_version (#12) ---------------------------------------------------------------------------------------

def test_shipped_profiles_and_prices_carry_schema_version_1() -> None:
    for path in [*SHIPPED, PROFILES_DIR / "api_pricing.yaml"]:
        assert yaml.safe_load(path.read_text(encoding="utf-8"))["schema_version"] == 1, path
    assert load_api_pricing().schema_version == 1


@pytest.mark.parametrize("version", [0, 2, 99])
def test_a_profile_of_an_unknown_schema_version_names_the_file_and_the_supported_ones(tmp_path: Path,
                                                                                      version: int) -> None:
    path = write(tmp_path, "test-box", profile(schema_version=version))
    with pytest.raises(SpecError) as info:
        load_profile(path)
    (problem,) = info.value.problems
    assert problem.file == str(path) and problem.location == "schema_version"
    assert f"schema_version {version} is not supported: this bench reads hardware profile schema_version 1" \
        in problem.message


def test_a_profile_without_schema_version_is_version_1(tmp_path: Path) -> None:
    assert load_profile(write(tmp_path, "test-box", profile())).schema_version == 1


def test_a_price_table_of_an_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load((PROFILES_DIR / "api_pricing.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "api_pricing.yaml"
    path.write_text(yaml.safe_dump({**data, "schema_version": 99}))
    with pytest.raises(SpecError, match=r"api_pricing.yaml: schema_version: .*schema_version 99 is not supported: "
                                         r"this bench reads API price table schema_version 1"):
        load_api_pricing(path)
