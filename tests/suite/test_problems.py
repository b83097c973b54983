"""Pydantic errors as one Problem each: a value that fits no member of a union is one line naming the members."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field, StrictInt, ValidationError

from bench.suite.problems import pydantic_problems


class Spec(BaseModel):
    budget: Annotated[StrictInt, Field(ge=2)] | Literal["all"] = "all"
    fields: str | dict[str, str] = "expected"
    sizes: list[int] | float = 1.0


def problems(**values: Any) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        Spec.model_validate(values)
    return [str(p) for p in pydantic_problems(caught.value, "s.yaml", root=Spec)]


@pytest.mark.parametrize(("values", "line"), [
    ({"budget": "lots"}, "s.yaml: budget: a whole number or 'all' (got 'lots')"),
    ({"budget": 7.5}, "s.yaml: budget: a whole number or 'all' (got 7.5)"),
    ({"budget": 1}, "s.yaml: budget: a whole number (Input should be greater than or equal to 2) or 'all' (got 1)"),
    ({"fields": 5}, "s.yaml: fields: a string or a mapping (got 5)"),
    ({"sizes": "many"}, "s.yaml: sizes: a list or a number (got 'many')"),
])
def test_one_line_per_value_that_fits_no_member(values: dict[str, Any], line: str) -> None:
    assert problems(**values) == [line]


def test_several_bad_values_are_one_line_each() -> None:
    assert problems(budget=True, fields=[1]) == ["s.yaml: budget: a whole number or 'all' (got True)",
                                                 "s.yaml: fields: a string or a mapping (got [1])"]
