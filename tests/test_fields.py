"""The field registry is consistent, and the README's column table is generated from it."""

from __future__ import annotations

import re

import polars as pl

from ecsflow.fields import (
    DEFAULT_FORMAT,
    FIELD_BY_NAME,
    FIELDS,
    column_name,
    format_version,
    parse_log_format,
    schema_markdown,
)

from .conftest import ROOT


def test_names_are_unique_and_snake_case_columns():
    names = [f.name for f in FIELDS]
    assert len(names) == len(set(names))
    for f in FIELDS:
        assert f.column == f.name.replace("-", "_")
        assert re.fullmatch(r"[a-z][a-z0-9_]*", f.column)


def test_versions_and_types():
    assert {f.version for f in FIELDS} <= {2, 3, 4, 5, 7, 8, None}
    assert sum(1 for f in FIELDS if f.name.startswith("ecs-")) == 10
    assert all(
        f.version == 7 and f.parquet == "STRING" for f in FIELDS if f.name.startswith("ecs-")
    )
    assert FIELD_BY_NAME["start"].dtype == pl.Datetime("us", "UTC")
    assert isinstance(FIELD_BY_NAME["action"].dtype, pl.Enum)


def test_formats():
    assert parse_log_format(DEFAULT_FORMAT)[:3] == ["version", "account-id", "interface-id"]
    assert len(parse_log_format(DEFAULT_FORMAT)) == 14
    assert parse_log_format(["a", " b "]) == ["a", "b"]
    assert format_version(["srcaddr", "tcp-flags"]) == 3
    assert format_version(["flow-direction", "az-id"]) == 5
    assert format_version(["reject-reason"]) == 8
    assert column_name("${ecs-task-id}") == "ecs_task_id"


def test_readme_column_table_is_generated_from_the_registry():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- columns:start -->")[1].split("<!-- columns:end -->")[0]
    assert table.strip() == schema_markdown().strip(), (
        "README column table is stale: python -m ecsflow.fields --readme"
    )
