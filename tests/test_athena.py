"""Athena: DDL generated from the registry, and the reduction compiled to Athena SQL, checked on
DuckDB (sqlglot transpiles it) against the local polars run of the same definition."""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import ecsflow
from ecsflow.athena import (
    LAYOUTS,
    add_cli,
    aggregate_sql,
    athena_type,
    ddl,
    duckdb_table,
    open_header,
    partition_columns,
)
from ecsflow.fields import DEFAULT_FORMAT, FIELD_BY_COLUMN, FIELDS, column_name
from ecsflow.reduce import reduce_flows, to_raw
from tests.conftest import ARTICLE, SAMPLES, require

SIMULATED = SAMPLES / "simulated"
ALL_FIELDS = " ".join(f"${{{f.name}}}" for f in FIELDS)
ACCOUNT = "123456789012"


def _parse(sql: str):
    require("sqlglot")
    import sqlglot

    return sqlglot.parse_one(sql, read="athena")


def _ddl_columns(sql: str) -> list[tuple[str, str]]:
    tree = _parse(sql)
    return [(c.name, c.args["kind"].sql("hive").lower()) for c in tree.this.expressions]


def _properties(sql: str) -> dict[str, str]:
    return dict(re.findall(r"'([^']+)' = '([^']*)'", sql.split("TBLPROPERTIES", 1)[1]))


# --- DDL -----------------------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["text", "parquet"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_ddl_parses_for_every_layout_and_format(layout, file_format):
    sql = ddl(ALL_FIELDS, "s3://bucket/prefix/", account_id=ACCOUNT, regions=["us-east-1"],
              layout=layout, file_format=file_format)  # fmt: skip
    tree = _parse(sql)
    assert [c for c, _ in _ddl_columns(sql)] == [f.column for f in FIELDS]
    partitioned = tree.find(_exp().PartitionedByProperty)
    assert [c.name for c in partitioned.this.expressions] == partition_columns(layout)
    assert sql.count("`end` bigint") == 1
    props = _properties(sql)
    assert props["projection.enabled"] == "true"
    assert ("skip.header.line.count" in props) == (file_format == "text")
    template = props["storage.location.template"]
    assert template.startswith("s3://bucket/prefix/AWSLogs/")
    # Every partition column is projected and appears in the location template.
    for p in partition_columns(layout):
        assert f"projection.{p}.type" in props
        assert "${" + p + "}" in template
        assert p not in FIELD_BY_COLUMN


def _exp():
    import sqlglot

    return sqlglot.exp


def test_partition_columns_never_shadow_fields():
    # AWS's projection example partitions by `region`, which shadows the v4 field.
    for layout in LAYOUTS:
        assert "region" not in partition_columns(layout)
    sql = ddl(ALL_FIELDS, "s3://b", account_id=ACCOUNT, regions="us-east-1")
    assert ("region", "string") in _ddl_columns(sql)


def test_ddl_types_are_the_physical_parquet_types():
    sql = ddl(ALL_FIELDS, "s3://b", account_id=ACCOUNT, regions="us-east-1", file_format="parquet")
    types = dict(_ddl_columns(sql))
    # AWS's DDL says `protocol bigint`, but its Parquet files hold INT32 (the trap).
    assert types["protocol"] == "int"
    assert types["srcport"] == types["tcp_flags"] == types["traffic_path"] == "int"
    assert types["bytes"] == types["packets"] == types["start"] == types["end"] == "bigint"
    assert types["ecs_task_id"] == types["reject_reason"] == "string"
    for f in FIELDS:
        assert types[f.column] == athena_type(f.column)
        assert (
            types[f.column] == {"INT_32": "int", "INT_64": "bigint", "STRING": "string"}[f.parquet]
        )
    assert "ParquetHiveSerDe" in sql and "FIELDS TERMINATED" not in sql


def test_ddl_text_storage():
    sql = ddl(DEFAULT_FORMAT, "s3://b/p/AWSLogs/", account_id=ACCOUNT, regions="us-east-1")
    assert "ROW FORMAT DELIMITED\nFIELDS TERMINATED BY ' '" in sql
    assert "LOCATION 's3://b/p/AWSLogs/'" in sql  # a trailing AWSLogs/ is not doubled
    assert _properties(sql)["skip.header.line.count"] == "1"


def test_any_subset_and_order_of_fields():
    fmt = "${ecs-task-id} ${reject-reason} ${end} ${srcaddr} ${encryption-status} ${my-new-field}"
    sql = ddl(fmt, "s3://b", account_id=ACCOUNT, regions="us-east-1")
    assert _ddl_columns(sql) == [
        ("ecs_task_id", "string"),
        ("reject_reason", "string"),
        ("end", "bigint"),
        ("srcaddr", "string"),
        ("encryption_status", "int"),
        ("my_new_field", "string"),
    ]


def test_the_article_format_fixes_finding_8():
    sql = ddl(open_header(ARTICLE), "s3://b", account_id=ACCOUNT, regions="us-east-1",
              layout="hourly")  # fmt: skip
    names = [c for c, _ in _ddl_columns(sql)]
    assert names[:3] == ["version", "account_id", "interface_id"]
    assert "resource_type" not in names
    assert len(names) == 39
    # The article's hand-made table had `resource_type` (holding the account id) then
    # `account_id` (holding the interface id); the generated table names them by the header.
    csv_header = (ARTICLE / "athena").glob("*.csv").__next__().read_text().splitlines()[0]
    assert "resource_type" in csv_header


@pytest.mark.parametrize("sample", ["article", "simulated"])
def test_loader_and_ddl_agree_on_every_column(sample):
    source = SAMPLES / sample
    header = open_header(source)
    sql = ddl(header, "s3://b", account_id=ACCOUNT, regions="us-east-1")
    columns = [c for c, _ in _ddl_columns(sql)]
    # Athena maps text columns by position: the DDL follows the files' header, in order.
    assert columns == [column_name(n) for n in header.split()]
    cleaned = ecsflow.read_flow_logs(source)
    fields = [c for c in cleaned.columns if c in FIELD_BY_COLUMN]
    # The loader puts fields in registry order; it has exactly the DDL's columns.
    assert sorted(fields) == sorted(columns)
    assert fields == [c for c in FIELD_BY_COLUMN if c in columns]
    if sample == "simulated":  # its format is in registry order: equal in order too
        assert fields == columns


def test_bad_arguments():
    with pytest.raises(ValueError, match="twice"):
        ddl("version version", "s3://b", account_id=ACCOUNT, regions="us-east-1")
    with pytest.raises(ValueError, match="layout"):
        ddl("version", "s3://b", account_id=ACCOUNT, regions="us-east-1", layout="daily")
    with pytest.raises(ValueError, match="s3://"):
        ddl("version", "/local", account_id=ACCOUNT, regions="us-east-1")
    with pytest.raises(ValueError, match="start and end"):
        aggregate_sql("version start end", start="2024-01-01", end=None)


# --- aggregate SQL on DuckDB ---------------------------------------------------------------


def _relayout(src: Path, dest: Path, layout: str) -> str:
    """Copy the default-layout sample into another of AWS's layouts; return a glob."""
    for f in sorted(src.glob("AWSLogs/*/vpcflowlogs/*/*/*/*/*.log.gz")):
        account, _, region, y, m, d = f.parts[-7:-1]
        hour = re.search(r"_\d{8}T(\d\d)\d\dZ_", f.name).group(1)
        if layout == "default":
            folder = f"AWSLogs/{account}/vpcflowlogs/{region}/{y}/{m}/{d}"
        elif layout == "hourly":
            folder = f"AWSLogs/{account}/vpcflowlogs/{region}/{y}/{m}/{d}/{hour}"
        else:
            folder = (f"AWSLogs/aws-account-id={account}/aws-service=vpcflowlogs/"
                      f"aws-region={region}/year={y}/month={m}/day={d}")  # fmt: skip
            if layout == "hive-hourly":
                folder += f"/hour={hour}"
        (dest / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(f, dest / folder / f.name)
    return str(dest / "AWSLogs" / "**" / "*.log.gz")


def _run_on_duckdb(sql: str, con) -> pl.DataFrame:
    import sqlglot

    duck = sqlglot.transpile(sql, read="athena", write="duckdb")[0]
    # DuckDB's SUM(BIGINT) is HUGEINT (Trino's is BIGINT).
    return con.sql(duck).pl().with_columns(pl.col("packets", "bytes").cast(pl.Int64))


@pytest.fixture(scope="module")
def sim_flows() -> pl.DataFrame:
    return ecsflow.read_flow_logs(SIMULATED)


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_athena_sql_on_duckdb_equals_local(tmp_path, sim_flows, layout):
    require("duckdb")
    require("ibis")
    require("sqlglot")
    import duckdb

    header = open_header(SIMULATED)
    files = _relayout(SIMULATED, tmp_path, layout)
    con = duckdb.connect()
    duckdb_table(con, files, log_format=header, layout=layout)
    start, end = "2024-06-03", "2024-06-04"
    sql = aggregate_sql(header, start=start, end=end, layout=layout)
    remote = _run_on_duckdb(sql, con)
    local = reduce_flows(to_raw(sim_flows), start=start, end=end).collect()
    assert local["records"].sum() == 4000
    assert_frame_equal(_sorted(local), _sorted(remote))


def test_window_scans_only_its_partitions(tmp_path, sim_flows):
    require("duckdb")
    require("ibis")
    require("sqlglot")
    import duckdb

    header = open_header(SIMULATED)
    con = duckdb.connect()
    duckdb_table(con, _relayout(SIMULATED, tmp_path, "hourly"), log_format=header,
                 layout="hourly")  # fmt: skip
    start, end = "2024-06-03T02:00:00", "2024-06-03T03:00:00"
    sql = aggregate_sql(header, start=start, end=end, layout="hourly")
    # Records overlapping the window sit in its hours' folders, or the next (their end
    # decides the folder): 02 and 03 are read, nothing else.
    assert "BETWEEN '2024/06/03/02' AND '2024/06/03/03'" in sql
    local = reduce_flows(to_raw(sim_flows), start=start, end=end).collect()
    assert 0 < local["records"].sum() < 4000
    assert_frame_equal(_sorted(local), _sorted(_run_on_duckdb(sql, con)))

    hive = aggregate_sql(header, start="2024-06-03T23:00", end="2024-06-05", layout="hive")
    days = re.findall(r"\"day\" = '(\d\d)'", hive)
    assert days == ["03", "04", "05"]
    # Hive with hourly folders prunes to the window's hours (and the next, for late ends).
    hourly = aggregate_sql(
        header, start="2024-06-03T02:00", end="2024-06-03T03:00", layout="hive-hourly"
    )
    assert re.findall(r"\"hour\" = '(\d\d)'", hourly) == ["02", "03"]
    con_hive = duckdb.connect()
    duckdb_table(
        con_hive,
        _relayout(SIMULATED, tmp_path / "hh", "hive-hourly"),
        log_format=header,
        layout="hive-hourly",
    )
    assert_frame_equal(_sorted(local), _sorted(_run_on_duckdb(hourly, con_hive)))


def test_sql_keeps_to_what_trino_accepts():
    require("ibis")
    require("sqlglot")
    sql = aggregate_sql(ALL_FIELDS, start="2024-06-03", end="2024-06-04", account_id=ACCOUNT,
                        regions=["us-east-1"])  # fmt: skip
    tree = _parse(sql)
    assert tree.find(_exp().Select) is not None
    upper = sql.upper()
    # Trino: no split_part with index <= 0, no tz-aware output (UNLOAD cannot write it), one
    # scan of the table (Trino inlines a CTE at every reference).
    assert "SPLIT_PART" not in upper
    assert "FROM_UNIXTIME" not in upper and "TIMESTAMP" not in upper
    assert upper.count('"VPC_FLOW_LOGS"') == 1
    assert "WITH " not in upper.split("SELECT", 1)[0]
    assert "\"aws_account_id\" IN ('123456789012')" in sql


def test_cli_prints_ddl_and_sql(capsys):
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["athena", "ddl", "--sample", str(ARTICLE), "s3://b/p",
                              "--account-id", ACCOUNT, "--region", "us-east-1",
                              "--layout", "hourly", "--file-format", "parquet"])  # fmt: skip
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith(";") and "`interface_id` string" in out
    require("ibis")
    args = parser.parse_args(["athena", "sql", "--sample", str(ARTICLE), "--layout", "hourly",
                              "--start", "2024-05-19", "--end", "2024-05-21"])  # fmt: skip
    assert args.func(args) == 0
    assert "GROUP BY" in capsys.readouterr().out


# --- the client path: PyAthena's polars cursor against a local moto server -----------------


def _push_result(endpoint: str, result: pl.DataFrame) -> None:
    """Queue ``result`` as the next Athena query result on the moto server."""
    import json
    import urllib.request

    types = {pl.Int32: "integer", pl.Int64: "bigint"}
    columns = [
        {"Name": c, "Type": types.get(t, "bigint" if t.is_decimal() else "varchar"),
         "Precision": 0, "Scale": 0, "Nullable": "NULLABLE"}
        for c, t in result.schema.items()
    ]  # fmt: skip
    rows = [{"Data": [{"VarCharValue": c} for c in result.columns]}]
    rows += [
        {"Data": [{} if v is None else {"VarCharValue": str(v)} for v in row]}
        for row in result.iter_rows()
    ]
    body = {"account_id": "123456789012", "region": "us-east-1",
            "results": [{"rows": rows, "column_info": columns}]}  # fmt: skip
    request = urllib.request.Request(
        f"{endpoint}/moto-api/static/athena/query-results",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request).close()


def test_aggregate_through_pyathena_polars_cursor(s3_endpoint, bucket, monkeypatch):
    """Real PyAthena client and result reading; moto stands in for the engine, whose rows
    are the generated SQL run on DuckDB."""
    for module in ("duckdb", "ibis", "sqlglot", "pyathena"):
        require(module)
    import duckdb
    from pyathena import connect
    from pyathena.polars.cursor import PolarsCursor

    from ecsflow import athena
    from ecsflow.reduce import aggregate_flows

    name, _ = bucket
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    header = open_header(ARTICLE)
    window = {"start": "2024-05-19", "end": "2024-05-21", "layout": "hourly"}
    con = duckdb.connect()
    duckdb_table(con, str(ARTICLE / "AWSLogs/*/vpcflowlogs/*/*/*/*/*/*.log.gz"),
                 log_format=header, layout="hourly")  # fmt: skip
    _push_result(s3_endpoint, _run_on_duckdb(aggregate_sql(header, **window), con))

    conn = connect(s3_staging_dir=f"s3://{name}/athena/", region_name="us-east-1",
                   cursor_class=PolarsCursor)  # fmt: skip
    got = athena.aggregate(header, connection=conn, **window)
    expected = aggregate_flows(ecsflow.read_flow_logs(ARTICLE))
    order = [c for c in expected.columns if c != "tcp_flag_names"]
    assert_frame_equal(got.sort(order, nulls_last=True), expected.sort(order, nulls_last=True))
