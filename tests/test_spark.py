"""The reduction's one narwhals definition on a PySpark DataFrame (Spark local mode).

The simulated deployment goes through the loader and :func:`ecsflow.reduce.to_raw` (the raw
shape an Athena or Glue table holds), is written to Parquet and read back by Spark; the same
:func:`ecsflow.reduce.reduce_flows` then runs on the Spark DataFrame and must give the polars
result. Needs ``pip install 'ecsflow[spark]'`` (PySpark) and a Java 17 runtime.
"""

from __future__ import annotations

import os
import shutil

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import ecsflow
from ecsflow.reduce import clean_aggregate, reduce_flows, to_raw
from tests.conftest import SAMPLES, require

SIMULATED = SAMPLES / "simulated"

pytestmark = [
    pytest.mark.slow,
    # PySpark 4.3 warns about pandas 3 on import; the Arrow path used here is unaffected.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]


def _require_java() -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("PySpark needs a Java runtime under CI (Debian: openjdk-17-jre-headless)")
        pytest.skip("PySpark needs a Java runtime (java on PATH or JAVA_HOME)")


@pytest.fixture(scope="module")
def spark():
    require("pyspark")
    _require_java()
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("ecsflow-tests")
        # Epochs stay integers, but keep Spark's clock in UTC like Athena's.
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def raw() -> pl.DataFrame:
    return to_raw(ecsflow.read_flow_logs(SIMULATED)).collect()


@pytest.fixture(scope="module")
def spark_raw(spark, raw, tmp_path_factory):
    path = tmp_path_factory.mktemp("spark") / "raw.parquet"
    raw.write_parquet(path)
    return spark.read.parquet(str(path))


def _collect(native) -> pl.DataFrame:
    import narwhals as nw

    return nw.from_native(native).collect(backend="polars").to_native()


def _normalised(frame: pl.DataFrame, like: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with ``like``'s column order and dtypes, rows sorted."""
    frame = frame.select(like.columns).cast(dict(like.schema))
    return frame.sort(frame.columns, nulls_last=True)


@pytest.mark.parametrize(
    "window",
    [{}, {"start": "2024-06-03T02:00:00", "end": "2024-06-03T03:00:00"}],
    ids=["whole-sample", "one-hour"],
)
def test_spark_gives_the_polars_aggregate(spark_raw, raw, window):
    local = reduce_flows(raw.lazy(), **window).collect()
    remote = _collect(reduce_flows(spark_raw, **window))
    if not window:
        assert local.height == 3696 and local["records"].sum() == raw.height
    else:
        assert 0 < local["records"].sum() < raw.height
    assert remote.columns == local.columns
    # Spark's types map onto the raw types: long, int and string columns.
    assert {c: remote.schema[c] for c in ("bytes", "records", "bucket", "start", "tcp_flags")} == {
        c: local.schema[c] for c in ("bytes", "records", "bucket", "start", "tcp_flags")
    }
    assert_frame_equal(_normalised(remote, local), _normalised(local, local))
    # ... and the cleaned aggregates (what attribution and the graphs take) agree too.
    cleaned_local, cleaned_remote = clean_aggregate(local), clean_aggregate(remote)
    order = [c for c in cleaned_local.columns if cleaned_local.schema[c] != pl.List(pl.String)]
    assert_frame_equal(
        cleaned_remote.sort(order, nulls_last=True), cleaned_local.sort(order, nulls_last=True)
    )
