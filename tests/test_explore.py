"""Exploration helpers (ecsflow.explore) on the article and simulated samples."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import ecsflow
from ecsflow.explore import deployments, pick_bucket, top_talkers, traffic_over_time

SIMULATED = "data/samples/simulated"


@pytest.fixture(scope="module")
def article() -> pl.DataFrame:
    return ecsflow.read_flow_logs("data/samples/article")


@pytest.fixture(scope="module")
def simulated() -> pl.DataFrame:
    return ecsflow.read_flow_logs(SIMULATED)


def test_top_talkers_by_eni_on_the_article(article):
    got = top_talkers(article, by="interface_id", n=2)
    expected = pl.DataFrame(
        {
            # the client task of deploy 1 (curl and ping), then the client of deploy 2
            "interface_id": ["eni-0783b0c994717f9a4", "eni-0062fcb196a46928b"],
            "records": [4, 2],
            "bytes": [2105, 1433],
            "packets": [15, 7],
            "rejected": [0, 0],
        },
        schema_overrides={"records": pl.UInt32, "rejected": pl.UInt32},
    )
    assert_frame_equal(
        got.with_columns(pl.col("interface_id").cast(pl.String)),
        expected,
        check_dtypes=False,
    )


def test_top_talkers_matches_a_plain_group_by(simulated):
    ok = simulated.filter(pl.col("log_status") == "OK")
    expected = (
        ok.group_by("ecs_service_name")
        .agg(pl.col("bytes").sum())
        .sort("bytes", "ecs_service_name", descending=[True, False], nulls_last=True)
        .head(3)
    )
    got = top_talkers(simulated, by="ecs_service_name", n=3).select("ecs_service_name", "bytes")
    assert_frame_equal(got, expected)


def test_top_talkers_keeps_the_frame_kind_and_counts_rejects(simulated):
    lazy = top_talkers(simulated.lazy(), by=["action"], sort_by="rejected", n=5)
    assert isinstance(lazy, pl.LazyFrame)
    got = lazy.collect()
    rejects = simulated.filter(pl.col("action") == "REJECT").height
    assert rejects > 0
    assert got.filter(pl.col("action") == "REJECT")["rejected"].item() == rejects
    assert got["action"].cast(pl.String).to_list()[0] == "REJECT"  # ranked by rejected


def test_top_talkers_without_bytes_ranks_by_records(simulated):
    narrow = simulated.select("interface_id", "start", "log_status")
    got = top_talkers(narrow, by="interface_id", sort_by="bytes", n=3)
    assert got.columns == ["interface_id", "records"]
    assert got["records"].is_sorted(descending=True)
    with pytest.raises(ValueError, match="no column"):
        top_talkers(narrow, by="ecs_service_name")
    with pytest.raises(ValueError, match="positive"):
        top_talkers(narrow, by="interface_id", n=0)


def test_traffic_over_time_sums_every_ok_record(simulated):
    got = traffic_over_time(simulated, every="1h", by="flow_direction")
    ok = simulated.filter(pl.col("log_status") == "OK")
    assert got["records"].sum() == ok.height
    assert got["bytes"].sum() == ok["bytes"].sum()
    assert got["start"].dt.minute().unique().to_list() == [0]
    assert got.height <= 2 * 9  # two directions, at most 9 hours


def test_traffic_over_time_picks_a_chartable_bucket(simulated):
    every = pick_bucket(simulated, max_points=500)
    assert every == "5m"  # 8.4 hours: 506 minutes, 101 five-minute buckets
    got = traffic_over_time(simulated, max_points=50)
    assert got.height <= 50
    assert isinstance(traffic_over_time(simulated.lazy(), every="1h"), pl.LazyFrame)


def test_deployments_match_the_ground_truth(simulated):
    got = deployments(ecsflow.task_intervals(simulated))
    truth = pl.read_parquet(f"{SIMULATED}/truth/tasks.parquet").filter(
        pl.col("service").is_not_null()
    )
    revisions = truth.with_columns(
        pl.col("task_definition_arn").str.extract(r"task-definition/(.+)$").alias("revision")
    )
    # Every revision change of a service in the truth that has records in the logs' window.
    expected = (
        revisions.group_by("cluster", "service", "revision")
        .agg(pl.col("started").min())
        .sort("cluster", "service", "started")
        .with_columns(pl.col("revision").shift(1).over("cluster", "service").alias("from"))
        .filter(pl.col("from").is_not_null())
        .select(
            pl.col("cluster").alias("ecs_cluster_name"),
            pl.col("service").alias("ecs_service_name"),
            pl.col("from").alias("from_revision"),
            pl.col("revision").alias("to_revision"),
        )
        .sort(pl.all())
    )
    assert_frame_equal(got.select(expected.columns).sort(pl.all()), expected)
    # A new revision's first record comes after its first task started.
    started = revisions.group_by("revision").agg(pl.col("started").min().alias("truth"))
    joined = got.join(started, left_on="to_revision", right_on="revision")
    assert (joined["started"] >= joined["truth"]).all()
    assert (got["finished"] >= got["started"]).all()


def test_deployments_on_the_article_are_none(article):
    # Each deploy of the article made a new service, so no service changed revision.
    got = deployments(ecsflow.task_intervals(article))
    assert got.height == 0
    assert got.columns[:4] == [
        "ecs_cluster_name",
        "ecs_service_name",
        "from_revision",
        "to_revision",
    ]
    assert got.schema["started"] == pl.Datetime("us", "UTC")
