"""The reduction stage, defined once for every engine: raw records to the analysis grain.

A month of flow logs does not fit one machine, but attribution, container slots and service
graphs need far less than every record. :func:`reduce_flows` groups records that differ only in
time and size: one row per combination of every dimension field present (``interface_id``,
``flow_direction``, ``srcaddr``/``dstaddr`` and the packet-level addresses, ``srcport``,
``dstport``, ``protocol``, ``action``, ``log_status``, the ECS fields, ...) and a time
``bucket``, with

==================  =====================================================================
``bytes``           sum (0 when every record of the group is ``'-'``, e.g. NODATA)
``packets``         sum (likewise)
``start``           first start (epoch seconds, min)
``end``             last end (epoch seconds, max)
``tcp_flags``       bitwise OR of the records' flags (so a SYN anywhere stays a SYN)
``records``         number of records
``bucket``          ``start`` rounded down to the bucket (epoch seconds)
==================  =====================================================================

The definition is written with `narwhals <https://narwhals-dev.github.io/narwhals/>`_ and uses
only the portable subset, so the same code runs on a polars LazyFrame, a DuckDB relation, a
PySpark DataFrame and an ibis table (which compiles it to Athena SQL, see
:mod:`ecsflow.athena`):

* epochs stay ``Int64`` until after aggregation (no engine-specific time types);
* the bitwise OR is computed bit by bit with ``//``, ``%`` and ``max`` (no bitwise operators);
* no as-of joins and no window functions; the container-id split (an anchored regex) and every
  decoding happen in :func:`clean_aggregate`, locally, on the small result.

The input is the *raw* shape, as an Athena table holds it: snake_case registry columns, integer
fields as integers (``'-'`` already null), ``start``/``end`` as epoch seconds, strings as strings
(``'-'`` still allowed). :func:`to_raw` turns a frame from :func:`ecsflow.read_flow_logs` into
that shape.

Examples
--------
>>> import ecsflow
>>> flows = ecsflow.read_flow_logs("data/samples/simulated")
>>> agg = aggregate_flows(flows)
>>> agg["records"].sum() == flows.height, agg["bytes"].sum() == flows["bytes"].sum()
(True, True)
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import narwhals as nw
import polars as pl

from ecsflow.clean import clean_flow_logs
from ecsflow.fields import FIELD_BY_COLUMN, Field
from ecsflow.sources import as_utc

__all__ = [
    "DEFAULT_BUCKET",
    "MEASURES",
    "aggregate_flows",
    "clean_aggregate",
    "dimensions",
    "raw_dtype",
    "reduce_flows",
    "to_raw",
]

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)

#: Seconds per time bucket: one hour, the finest partition AWS's S3 layouts offer.
DEFAULT_BUCKET = 3600
#: Fields that are aggregated, not grouped by; every other field present is a dimension.
MEASURES = ("packets", "bytes", "start", "end", "tcp_flags")
#: Columns the reduction adds.
ADDED = ("records", "bucket")
_FLAG_BITS = 8  # tcp-flags is valid in [0, 255]


def raw_dtype(f: Field) -> type[nw.dtypes.DType]:
    """The narwhals dtype of a field in the raw shape: AWS's Parquet physical type.

    >>> from ecsflow.fields import FIELD_BY_NAME
    >>> raw_dtype(FIELD_BY_NAME["protocol"]), raw_dtype(FIELD_BY_NAME["end"])
    (Int32, Int64)
    """
    return {"INT_32": nw.Int32, "INT_64": nw.Int64}.get(f.parquet, nw.String)


def dimensions(columns: Sequence[str]) -> list[str]:
    """The grouping columns among ``columns``: registry fields that are not measures.

    >>> dimensions(["srcaddr", "bytes", "start", "ecs_task_id", "my_note"])
    ['srcaddr', 'ecs_task_id']
    """
    return [c for c in columns if c in FIELD_BY_COLUMN and c not in MEASURES]


def _epoch(value: datetime | date | str | int | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    return int(as_utc(value).timestamp())


def reduce_flows(
    raw: Any,
    /,
    *,
    bucket: int = DEFAULT_BUCKET,
    start: datetime | date | str | int | None = None,
    end: datetime | date | str | int | None = None,
) -> Any:
    """Aggregate raw records to the analysis grain, on any narwhals-supported engine.

    Parameters
    ----------
    raw
        Raw records (see the module docstring) as a polars LazyFrame or DataFrame, a DuckDB
        relation, an ibis table, a PySpark DataFrame, ...: anything ``narwhals.from_native``
        takes. Columns that are not registry fields (Athena's partition columns) are ignored.
    bucket
        Seconds per time bucket (``start // bucket * bucket``).
    start, end
        Only records overlapping ``[start, end)`` (``end >= start`` and ``start < end``, as in
        :func:`ecsflow.scan_flow_logs`): datetimes (naive meaning UTC), dates, ISO strings or
        epoch seconds.

    Returns
    -------
    native lazy frame
        Same engine as ``raw`` (a ``pl.LazyFrame`` for polars input): the dimension columns in
        input order, then ``packets``, ``bytes``, ``start``, ``end``, ``tcp_flags`` (those
        present), ``records`` and ``bucket``. Row order is unspecified. Sums and counts are
        ``Int64``, epochs ``Int64``, ``tcp_flags`` ``Int32``.

    Examples
    --------
    >>> raw = pl.LazyFrame({"interface_id": ["eni-1", "eni-1"], "srcaddr": ["-", "-"],
    ...     "bytes": [10, 5], "start": [3600, 3700], "end": [3660, 3760], "tcp_flags": [2, 1]})
    >>> reduce_flows(raw).collect().row(0)
    ('eni-1', None, 15, 3600, 3760, 3, 2, 3600)
    """
    frame = nw.from_native(raw).lazy()
    names = frame.collect_schema().names()
    keys = dimensions(names)
    if "start" not in names:
        raise ValueError("the reduction needs the start field (its time bucket)")
    lo, hi = _epoch(start), _epoch(end)
    if lo is not None:
        frame = frame.filter(nw.col("end") >= lo)
    if hi is not None:
        frame = frame.filter(nw.col("start") < hi)

    strings = [c for c in keys if raw_dtype(FIELD_BY_COLUMN[c]) is nw.String]
    frame = frame.with_columns(
        # AWS writes '-' for "not applicable"; integer columns arrive with it as null already.
        *[nw.when(~nw.col(c).is_in(["-", ""])).then(nw.col(c)).alias(c) for c in strings],
        ((nw.col("start") // bucket) * bucket).cast(nw.Int64).alias("bucket"),
    )
    aggs = []
    for c in (m for m in MEASURES if m in names):
        if c in ("packets", "bytes"):
            aggs.append(nw.col(c).sum().cast(nw.Int64))
        elif c == "start":
            aggs.append(nw.col(c).min().cast(nw.Int64))
        elif c == "end":
            aggs.append(nw.col(c).max().cast(nw.Int64))
        else:  # tcp_flags: OR = per bit, any record has it
            aggs += [
                ((nw.col(c) // 2**k) % 2).max().alias(f"__flag_bit{k}") for k in range(_FLAG_BITS)
            ]
    aggs.append(nw.len().cast(nw.Int64).alias("records"))
    out = frame.group_by(*keys, "bucket").agg(*aggs)
    if "tcp_flags" in names:
        bits = [nw.col(f"__flag_bit{k}") * 2**k for k in range(_FLAG_BITS)]
        out = out.with_columns(
            functools.reduce(operator.add, bits).cast(nw.Int32).alias("tcp_flags")
        )
    order = [*keys, *(m for m in MEASURES if m in names), *ADDED]
    return out.select(order).to_native()


def to_raw(flows: pl.DataFrame | pl.LazyFrame, /) -> pl.LazyFrame:
    """Cleaned flows (from :func:`ecsflow.read_flow_logs`) in the raw shape the reduction takes.

    Registry fields only, in the frame's order: ``start``/``end`` as epoch seconds, integers
    in AWS's Parquet types, everything else as strings (nulls stay null).

    Examples
    --------
    >>> import ecsflow
    >>> raw = to_raw(ecsflow.read_flow_logs("data/samples/article"))
    >>> raw.collect_schema()["end"], raw.collect_schema()["interface_id"]
    (Int64, String)
    """
    lazy = flows.lazy()
    schema = lazy.collect_schema()
    exprs = []
    for name in schema:
        f = FIELD_BY_COLUMN.get(name)
        if f is None:
            continue
        col = pl.col(name)
        if f.is_time:
            exprs.append(col.dt.epoch("s").alias(name))
        else:
            dtype = raw_dtype(f)
            target = {nw.Int32: pl.Int32, nw.Int64: pl.Int64}.get(dtype, pl.String)
            exprs.append(col.cast(target).alias(name))
    return lazy.select(exprs)


def clean_aggregate(aggregate: Any, /) -> pl.DataFrame | pl.LazyFrame:
    """Turn a reduction result into the frame the local analyses take.

    Applies :func:`ecsflow.clean_flow_logs` to the field columns (UTC datetimes for
    ``start``/``end``, enums and categoricals, decoded protocol, TCP flags and traffic path,
    container-id parts split with an anchored regex) and keeps ``records`` (``Int64``) and
    ``bucket`` (a UTC datetime).

    Parameters
    ----------
    aggregate
        The output of :func:`reduce_flows` from any engine, or its collected result (a polars
        frame, or anything ``narwhals`` can collect to polars).

    Returns
    -------
    DataFrame or LazyFrame
        A LazyFrame for a polars LazyFrame input, else a DataFrame.

    Examples
    --------
    >>> agg = clean_aggregate(pl.DataFrame({"srcport": [443], "start": [0], "end": [59],
    ...     "records": [2], "bucket": [0]}))
    >>> agg.schema["end"], agg.schema["bucket"], agg["records"].to_list()
    (Datetime(time_unit='us', time_zone='UTC'), Datetime(time_unit='us', time_zone='UTC'), [2])
    """
    if not isinstance(aggregate, pl.DataFrame | pl.LazyFrame):
        aggregate = nw.from_native(aggregate)
        if isinstance(aggregate, nw.LazyFrame):
            aggregate = aggregate.collect(backend="polars")
        aggregate = aggregate.to_polars()
    lazy = aggregate.lazy()
    names = lazy.collect_schema().names()
    fields = [c for c in names if c in FIELD_BY_COLUMN]
    extra = [
        pl.col("records").cast(pl.Int64),
        pl.from_epoch(pl.col("bucket").cast(pl.Int64), time_unit="s")
        .dt.replace_time_zone("UTC")
        .dt.cast_time_unit("us"),
    ]
    extra = [e for e in extra if e.meta.output_name() in names]
    # One frame through cleaning (a non-text column passes it unchanged): a horizontal concat
    # of two plans over the same unordered group_by could pair rows of different groups.
    cleaned = clean_flow_logs(lazy.select(*fields, *extra))
    added = [e.meta.output_name() for e in extra]
    out = cleaned.select(pl.exclude(added), *added)
    return out if isinstance(aggregate, pl.LazyFrame) else out.collect()


def aggregate_flows(
    flows: FrameT,
    /,
    *,
    bucket: int = DEFAULT_BUCKET,
    start: datetime | date | str | int | None = None,
    end: datetime | date | str | int | None = None,
) -> FrameT:
    """The reduction of cleaned flows, locally with polars: :func:`reduce_flows` end to end.

    The result has the cleaned columns of the input's fields (aggregated as in
    :func:`reduce_flows`) plus ``records`` and ``bucket``, so
    :func:`ecsflow.attribute_flows` and :func:`ecsflow.service_graph` take it as they take
    the records.

    Examples
    --------
    >>> import ecsflow
    >>> agg = aggregate_flows(ecsflow.read_flow_logs("data/samples/article"))
    >>> agg.height, agg["records"].sum()
    (10, 10)
    """
    out = clean_aggregate(reduce_flows(to_raw(flows), bucket=bucket, start=start, end=end))
    return out.collect() if isinstance(flows, pl.DataFrame) else out
