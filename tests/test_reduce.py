"""The reduction stage: one narwhals definition, equal results on polars and DuckDB, and the
analyses (attribution, service graphs) giving the same answers on the aggregates."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import ecsflow
from ecsflow.reduce import aggregate_flows, clean_aggregate, reduce_flows, to_raw
from tests.conftest import SAMPLES, require

SIMULATED = SAMPLES / "simulated"
SIM_FILES = str(SIMULATED / "AWSLogs/*/vpcflowlogs/*/*/*/*/*.log.gz")


@pytest.fixture(scope="module")
def flows() -> pl.DataFrame:
    return ecsflow.read_flow_logs(SIMULATED)


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


def test_reduce_on_a_small_frame():
    raw = pl.LazyFrame(
        {
            "interface_id": ["eni-1", "eni-1", "eni-1", "eni-2"],
            "srcaddr": ["10.0.0.1", "10.0.0.1", "10.0.0.1", "-"],
            "srcport": [443, 443, 443, None],
            "packets": [1, 2, 5, None],
            "bytes": [100, 200, 500, None],
            "start": [3600, 3650, 7300, 3600],
            "end": [3659, 3700, 7359, 3659],
            "tcp_flags": [2, 1, 18, None],
            "log_status": ["OK", "OK", "OK", "NODATA"],
        },
        schema_overrides={"srcport": pl.Int32, "tcp_flags": pl.Int32},
    )
    got = reduce_flows(raw).collect()
    expected = pl.DataFrame(
        {
            "interface_id": ["eni-1", "eni-1", "eni-2"],
            "srcaddr": ["10.0.0.1", "10.0.0.1", None],
            "srcport": [443, 443, None],
            "log_status": ["OK", "OK", "NODATA"],
            "packets": [3, 5, 0],
            "bytes": [300, 500, 0],
            "start": [3600, 7300, 3600],
            "end": [3700, 7359, 3659],
            "tcp_flags": [3, 18, None],
            "records": [2, 1, 1],
            "bucket": [3600, 7200, 3600],
        },
        schema_overrides={"srcport": pl.Int32, "tcp_flags": pl.Int32},
    )
    assert_frame_equal(_sorted(got), _sorted(expected))


def test_window_keeps_overlapping_records():
    raw = pl.LazyFrame({"interface_id": ["a", "b", "c"], "start": [0, 100, 200],
                        "end": [99, 199, 299]})  # fmt: skip
    got = reduce_flows(raw, start=150, end=200).collect()
    assert got["interface_id"].to_list() == ["b"]


def test_totals_are_kept(flows):
    agg = aggregate_flows(flows)
    assert agg["records"].sum() == flows.height
    assert agg["bytes"].sum() == flows["bytes"].sum()
    assert agg["packets"].sum() == flows["packets"].sum()
    assert agg.height < flows.height
    # Cleaned dtypes, as the loader gives them: the analyses take the aggregate unchanged.
    for name, dtype in agg.schema.items():
        if name in flows.schema:
            assert dtype == flows.schema[name], name
    assert agg.schema["bucket"] == pl.Datetime("us", "UTC")


def test_polars_and_duckdb_give_equal_frames(flows):
    require("duckdb")
    import duckdb
    import narwhals as nw

    from ecsflow.athena import duckdb_table, open_header

    con = duckdb.connect()
    rel = duckdb_table(con, SIM_FILES, log_format=open_header(SIMULATED))
    local = reduce_flows(to_raw(flows)).collect()
    remote = nw.from_native(reduce_flows(rel)).collect(backend="polars").to_native()
    assert local.height == 3696
    assert_frame_equal(_sorted(local), _sorted(remote))
    # ... and the cleaned aggregates agree too.
    assert_frame_equal(_sorted(clean_aggregate(local)), _sorted(clean_aggregate(remote)))


def _edges(graph) -> dict:
    keep = ("bytes", "bytes_to_server", "bytes_to_client", "packets", "flows", "server_ports",
            "protocols", "first_seen", "last_seen", "records", "accepted", "rejected")  # fmt: skip
    return {(u, v): {k: d[k] for k in keep} for u, v, d in graph.edges(data=True)}


@pytest.mark.parametrize("level", ["service", "task"])
def test_graph_from_aggregates_equals_graph_from_records(flows, level):
    agg = aggregate_flows(flows)
    from_records = _edges(ecsflow.service_graph(flows, level=level))
    from_aggregate = _edges(ecsflow.service_graph(agg, level=level))
    assert len(from_records) > 30
    assert from_aggregate == from_records


def test_attribution_on_aggregates_matches_records(flows):
    agg = aggregate_flows(flows)
    cols = ["src_kind", "dst_kind", "src_ecs_task_id", "dst_ecs_task_id", "server_port",
            "is_primary"]  # fmt: skip
    by_records = (
        ecsflow.attribute_flows(flows)
        .group_by(cols)
        .agg(pl.col("bytes").sum(), pl.len().alias("records"))
    )
    by_aggregate = (
        ecsflow.attribute_flows(agg)
        .group_by(cols)
        .agg(pl.col("bytes").sum(), pl.col("records").sum())
    )
    assert_frame_equal(
        _sorted(by_records.with_columns(pl.col("records").cast(pl.Int64))),
        _sorted(by_aggregate),
        check_dtypes=False,
    )
    # ENI intervals count records, not aggregate rows.
    assert_frame_equal(
        ecsflow.task_intervals(agg).select("interface_id", "ip", "records"),
        ecsflow.task_intervals(flows).select("interface_id", "ip", "records"),
        check_dtypes=False,
    )


def test_aggregate_rows_keep_their_own_counts(flows):
    # Each aggregate row's records and bucket belong to its own group: per interface and
    # bucket the records add up to the records of the input, whatever order the group_by
    # returned its rows in (an earlier version paired rows of two plans side by side).
    agg = aggregate_flows(flows)
    got = agg.group_by("interface_id", "bucket").agg(pl.col("records").sum()).sort(pl.all())
    want = (
        flows.group_by("interface_id", pl.col("start").dt.truncate("1h").alias("bucket"))
        .agg(pl.len().cast(pl.Int64).alias("records"))
        .sort(pl.all())
    )
    assert_frame_equal(got, want, check_dtypes=False)
    again = aggregate_flows(flows)
    assert_frame_equal(_sorted(agg), _sorted(again))
