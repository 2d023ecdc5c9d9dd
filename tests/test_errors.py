"""FlowLogError keeps its file, line and reason, even when polars re-raises it."""

import pickle

import polars as pl
import pytest

from ecsflow.errors import FlowLogError


def test_message_names_file_and_line():
    err = FlowLogError("flows.log", 3, "expected 14 fields, found 13")
    assert str(err) == "flows.log, line 3: expected 14 fields, found 13"
    assert str(FlowLogError("flows.log", None, "empty file")) == "flows.log: empty file"
    again = pickle.loads(pickle.dumps(err))
    assert (again.path, again.line, again.reason) == ("flows.log", 3, err.reason)


def test_fields_survive_polars_recreating_the_error_from_its_message():
    # Inside a streaming query polars re-creates a UDF's exception from its message plus the
    # failing expression; the path, line and reason must come back.
    def fail(batch: pl.Series) -> pl.Series:
        raise FlowLogError("s3://b/k.log.gz", 12, "srcport: 70000 is out of range [0, 65535]")

    lf = pl.LazyFrame({"x": [1, 2]}).select(
        pl.col("x").map_batches(fail, return_dtype=pl.Int64, is_elementwise=True)
    )
    with pytest.raises(FlowLogError) as err:
        lf.collect(engine="streaming")
    assert (err.value.path, err.value.line) == ("s3://b/k.log.gz", 12)
    assert err.value.reason == "srcport: 70000 is out of range [0, 65535]"
    assert str(err.value) == "s3://b/k.log.gz, line 12: srcport: 70000 is out of range [0, 65535]"


def test_an_unknown_message_is_kept_whole():
    err = FlowLogError("something else went wrong")
    assert err.line is None and err.reason == "something else went wrong"
