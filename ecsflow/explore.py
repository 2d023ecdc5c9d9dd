"""Exploration helpers for the notebooks: top talkers, traffic over time, deployments.

Pure functions over polars frames: the frame comes first, options are keyword-only, and a
DataFrame in gives a DataFrame out (a LazyFrame in, a LazyFrame out). They only aggregate; the
notebooks chart their results with :mod:`ecsflow.charts`.

Examples
--------
>>> import ecsflow
>>> flows = ecsflow.read_flow_logs("data/samples/article")
>>> top_talkers(flows, by="interface_id", n=1).select("interface_id", "bytes").row(0)
('eni-0783b0c994717f9a4', 2105)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TypeVar

import polars as pl

__all__ = ["BUCKETS", "deployments", "pick_bucket", "top_talkers", "traffic_over_time"]

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)

#: Bucket widths tried by :func:`pick_bucket`, finest first (polars duration strings).
BUCKETS = ("1m", "5m", "10m", "30m", "1h", "6h", "1d", "7d")
_BUCKET_SPAN = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "10m": timedelta(minutes=10),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
}


def _sums(schema: pl.Schema) -> list[pl.Expr]:
    """Records, and bytes / packets / rejected counts where the columns exist."""
    sums = [pl.len().alias("records")]
    for column in ("bytes", "packets"):
        if column in schema:
            sums.append(pl.col(column).sum().alias(column))
    if "action" in schema:
        sums.append((pl.col("action").cast(pl.String) == "REJECT").sum().alias("rejected"))
    return sums


def _ok(schema: pl.Schema) -> pl.Expr:
    return pl.col("log_status").cast(pl.String) == "OK" if "log_status" in schema else pl.lit(True)


def top_talkers(
    flows: FrameT,
    /,
    *,
    by: str | Sequence[str],
    n: int = 10,
    sort_by: str = "bytes",
    only_ok: bool = True,
) -> FrameT:
    """The groups of records that moved the most traffic.

    Parameters
    ----------
    flows
        Cleaned (optionally attributed) flow records.
    by
        Column(s) to group by, e.g. ``"interface_id"``, ``"ecs_service_name"`` or
        ``["src_ecs_service_name", "dst_kind"]``. Nulls form their own group.
    n
        How many groups to keep (the largest first).
    sort_by
        The aggregate to rank by: ``"bytes"``, ``"packets"``, ``"records"`` or
        ``"rejected"``. When the column is missing from the input (a custom log format
        without ``bytes``), groups are ranked by ``"records"``.
    only_ok
        Keep only ``log_status == "OK"`` records (when the column exists): NODATA and
        SKIPDATA rows carry no traffic.

    Returns
    -------
    DataFrame or LazyFrame
        One row per group: the ``by`` columns, ``records``, and ``bytes``, ``packets`` and
        ``rejected`` (records with ``action == "REJECT"``) where the input has the fields;
        sorted by ``sort_by`` descending, then by the ``by`` columns; at most ``n`` rows.

    Raises
    ------
    ValueError
        If ``n`` is not positive or a ``by`` column is missing.

    Examples
    --------
    >>> import ecsflow
    >>> flows = ecsflow.read_flow_logs("data/samples/article")
    >>> top = top_talkers(flows, by="protocol_name", n=2)
    >>> top.select("protocol_name", "records", "bytes", "rejected").rows()
    [('TCP', 8, 5732, 0), ('ICMP', 2, 672, 0)]
    """
    if n <= 0:
        raise ValueError(f"n must be a positive integer, got {n}")
    keys = [by] if isinstance(by, str) else list(by)
    lazy = flows.lazy()
    schema = lazy.collect_schema()
    missing = [c for c in keys if c not in schema]
    if missing:
        raise ValueError(f"top_talkers: no column(s) {missing} in the flows")
    if only_ok:
        lazy = lazy.filter(_ok(schema))
    sums = _sums(schema)
    names = [e.meta.output_name() for e in sums]
    rank = sort_by if sort_by in names else "records"
    out = (
        lazy.group_by(keys)
        .agg(sums)
        .sort([rank, *keys], descending=[True, *[False] * len(keys)], nulls_last=True)
        .head(n)
    )
    return out.collect() if isinstance(flows, pl.DataFrame) else out


def pick_bucket(flows: pl.DataFrame | pl.LazyFrame, /, *, max_points: int = 500) -> str:
    """The finest bucket width of :data:`BUCKETS` that gives at most ``max_points`` buckets.

    Parameters
    ----------
    flows
        Records with a ``start`` column.
    max_points
        Most buckets wanted over the records' time span (per series).

    Returns
    -------
    str
        A polars duration string such as ``"5m"`` (``"1m"`` for an empty frame).

    Examples
    --------
    >>> import ecsflow
    >>> flows = ecsflow.read_flow_logs("data/samples/article")  # 7 hours of records
    >>> pick_bucket(flows, max_points=100), pick_bucket(flows, max_points=10)
    ('5m', '1h')
    """
    span = flows.lazy().select(pl.col("start").max() - pl.col("start").min()).collect().item()
    if span is None:
        return BUCKETS[0]
    for every in BUCKETS:
        if span / _BUCKET_SPAN[every] < max_points:
            return every
    return BUCKETS[-1]


def traffic_over_time(
    flows: FrameT,
    /,
    *,
    every: str | None = None,
    by: str | None = None,
    max_points: int = 500,
    only_ok: bool = True,
) -> FrameT:
    """Records, bytes, packets and rejects per time bucket (by record ``start``).

    Parameters
    ----------
    flows
        Cleaned flow records with ``start``.
    every
        The bucket width, a polars duration such as ``"5m"`` or ``"1h"``; by default the
        finest of :data:`BUCKETS` that keeps at most ``max_points`` buckets
        (:func:`pick_bucket`), so the result stays small enough to chart.
    by
        Optional column splitting the series (e.g. ``"flow_direction"`` or
        ``"src_ecs_service_name"``); nulls become their own series.
    max_points
        See ``every``.
    only_ok
        Keep only ``log_status == "OK"`` records (when the column exists).

    Returns
    -------
    DataFrame or LazyFrame
        ``start`` (the bucket's start), the ``by`` column, ``records``, and ``bytes``,
        ``packets`` and ``rejected`` where the input has the fields; sorted by ``start``
        then ``by``. Buckets without records are absent.

    Examples
    --------
    >>> import ecsflow
    >>> flows = ecsflow.read_flow_logs("data/samples/article")
    >>> traffic_over_time(flows, every="1d").select("start", "records", "bytes").rows()
    [(datetime.datetime(2024, 5, 19, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC')), 6, 3538),
     (datetime.datetime(2024, 5, 20, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC')), 4, 2866)]
    """
    lazy = flows.lazy()
    schema = lazy.collect_schema()
    if "start" not in schema:
        raise ValueError("traffic_over_time needs the start field")
    if by is not None and by not in schema:
        raise ValueError(f"traffic_over_time: no column {by!r} in the flows")
    if only_ok:
        lazy = lazy.filter(_ok(schema))
    if every is None:
        every = pick_bucket(lazy, max_points=max_points)
    keys = [] if by is None else [by]
    out = (
        lazy.filter(pl.col("start").is_not_null())
        .with_columns(pl.col("start").dt.truncate(every))
        .group_by("start", *keys)
        .agg(_sums(schema))
        .sort(["start", *keys], nulls_last=True)
    )
    return out.collect() if isinstance(flows, pl.DataFrame) else out


def deployments(intervals: FrameT, /, *, min_tasks: int = 1) -> FrameT:
    """Deployments seen in the logs: a service's move to a new task-definition revision.

    Parameters
    ----------
    intervals
        The output of :func:`ecsflow.task_intervals` (one row per ENI and address, with
        ``ecs_service_name``, ``ecs_cluster_name``, ``ecs_task_definition_arn``,
        ``ecs_task_id``, ``first_seen`` and ``last_seen``).
    min_tasks
        Ignore revisions seen on fewer tasks than this.

    Returns
    -------
    DataFrame or LazyFrame
        One row per revision change of a service: ``ecs_cluster_name``,
        ``ecs_service_name``, ``from_revision`` and ``to_revision`` (``family:revision``),
        ``started`` (the first record of the new revision's tasks), ``finished`` (the last
        record of the old revision's tasks: the roll-out's end, or ``started`` when the old
        tasks had stopped before), ``old_tasks`` and ``new_tasks``; sorted by ``started``.
        Standalone tasks (no service) are left out.

    Examples
    --------
    >>> import ecsflow
    >>> t = ecsflow.task_intervals(ecsflow.read_flow_logs("data/samples/simulated"))
    >>> d = deployments(t).filter(pl.col("ecs_service_name") == "orders")
    >>> d.select("from_revision", "to_revision").rows()
    [('core-orders:7', 'core-orders:8'), ('core-orders:8', 'core-orders:9'), ('core-orders:9', 'core-orders:10')]
    """  # noqa: E501
    keys = ["ecs_cluster_name", "ecs_service_name"]
    revisions = (
        intervals.lazy()
        .filter(
            pl.col("ecs_service_name").is_not_null(),
            pl.col("ecs_task_definition_arn").is_not_null(),
        )
        .with_columns(
            *[pl.col(c).cast(pl.String) for c in keys],
            pl.col("ecs_task_definition_arn")
            .cast(pl.String)
            .str.extract(r"task-definition/(.+)$", 1)
            .alias("revision"),
        )
        .group_by(*keys, "revision")
        .agg(
            pl.col("first_seen").min().alias("first"),
            pl.col("last_seen").max().alias("last"),
            pl.col("ecs_task_id").n_unique().alias("tasks"),
        )
        .filter(pl.col("tasks") >= min_tasks)
        .sort(*keys, "first")
    )
    previous = [pl.col(c).shift(1).over(keys) for c in ("revision", "last", "tasks")]
    out = (
        revisions.with_columns(
            previous[0].alias("from_revision"),
            previous[1].alias("__old_last"),
            previous[2].alias("old_tasks"),
        )
        .filter(pl.col("from_revision").is_not_null())
        .select(
            *keys,
            "from_revision",
            pl.col("revision").alias("to_revision"),
            pl.col("first").alias("started"),
            pl.max_horizontal("__old_last", "first").alias("finished"),
            "old_tasks",
            pl.col("tasks").alias("new_tasks"),
        )
        .sort("started", *keys)
    )
    return out.collect() if isinstance(intervals, pl.DataFrame) else out
