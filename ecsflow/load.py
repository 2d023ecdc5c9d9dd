"""The loader: ``scan_flow_logs`` (lazy), ``read_flow_logs`` (eager) and ``bad_lines``.

Locate the files of a source, read each in its own format, clean each with the field
registry, and union them by column name.

Examples
--------
>>> flows = read_flow_logs("data/samples/article")
>>> flows.height, flows["ecs_task_id"].n_unique()
(10, 4)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import polars as pl

from ecsflow.clean import BadLinesWarning, OnBadLines, clean_flow_logs
from ecsflow.fields import FIELD_BY_COLUMN, column_name
from ecsflow.read import INTERNAL, scan_files
from ecsflow.sources import Source, as_utc, expand_source, prune_by_time

__all__ = ["bad_lines", "read_flow_logs", "scan_flow_logs"]


def _raw_frames(
    source: Source,
    *,
    log_format: str | Sequence[str] | None,
    storage_options: Mapping[str, Any] | None,
    rename: Mapping[str, str] | None,
    columns: Sequence[str] | None,
    strict: bool,
    start: datetime | None = None,
    end: datetime | None = None,
    show_progress: bool | None = None,
) -> list[pl.LazyFrame]:
    files = expand_source(source, storage_options=storage_options)
    if not files:
        raise FileNotFoundError(f"no flow-log files in {source!r}")
    # Keep one file when none can overlap, so that the empty result still has its columns.
    files = prune_by_time(files, start=start, end=end) or files[:1]
    wanted = None if columns is None else [column_name(c) for c in columns]
    frames = scan_files(
        files,
        log_format=log_format,
        storage_options=storage_options,
        rename=rename,
        strict=strict,
        show_progress=show_progress,
        columns=wanted,
    )
    if wanted is None:
        return frames
    out = []
    for lf in frames:
        present = lf.collect_schema().names()
        out.append(
            lf.select([c for c in INTERNAL if c in present] + [c for c in wanted if c in present])
        )
    return out


def _union(frames: list[pl.LazyFrame], columns: Sequence[str] | None) -> pl.LazyFrame:
    lf = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
    schema = lf.collect_schema()
    known = [c for c in FIELD_BY_COLUMN if c in schema]
    rest = [c for c in schema if c not in FIELD_BY_COLUMN]
    lf = lf.select(known + rest)
    if columns is not None:
        missing = [c for c in (column_name(c) for c in columns) if c not in schema]
        if missing:
            raise ValueError(f"columns not in any file: {missing}")
    return lf


def scan_flow_logs(
    source: Source,
    /,
    *,
    log_format: str | Sequence[str] | None = None,
    on_bad_lines: OnBadLines = "error",
    columns: Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
    include_file_paths: str | None = None,
    start: datetime | date | str | None = None,
    end: datetime | date | str | None = None,
    progress: bool | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> pl.LazyFrame:
    """Lazily load and clean VPC flow logs from any delivery.

    Parameters
    ----------
    source
        A file, a directory (searched recursively for ``*.log``, ``*.log.gz``,
        ``*.log.parquet`` and CloudWatch export chunks), a glob, an ``s3://`` URL (object,
        prefix or glob) or a list of these. Name Athena CSV results (``*.csv``) explicitly.
    log_format
        The fields of headerless records (CloudWatch Logs), as AWS's ``LogFormat`` string
        (``"${version} ${account-id} ..."``) or a list of names. A file's own header line
        always wins. Lines exported from CloudWatch to S3 (``<ISO time> <record>``) default to
        AWS's default format.
    on_bad_lines
        ``"error"`` (default) raises :class:`~ecsflow.FlowLogError` naming the file and line;
        ``"warn"`` and ``"skip"`` set bad lines aside (see :func:`bad_lines`).
    columns
        Only these fields (AWS or snake_case names); only they are validated and typed.
    rename
        Rename columns before cleaning, e.g. to repair a hand-written Athena table whose
        column names are wrong (``{"resource_type": "account_id", "account_id":
        "interface_id"}``).
    include_file_paths
        Add a column of this name holding each record's file.
    start, end
        Only records overlapping ``[start, end)`` (datetimes, naive meaning UTC, dates or ISO
        strings). Files whose keys show they cannot overlap (AWS's 5-minute file names, hourly
        and daily prefixes, in every layout) are not opened.
    progress
        Show a progress bar (files, bytes, rows): ``None`` shows one for 20 files or more
        where a bar can be drawn (a terminal or JupyterLab, not with ``TQDM_DISABLE=1``).
    storage_options
        S3 settings and credentials as polars takes them (``aws_region``,
        ``aws_endpoint_url``, ...). Without them the standard AWS credential chain applies.

    Returns
    -------
    LazyFrame
        Cleaned flows: snake_case AWS names, typed columns, nulls for '-', UTC datetimes,
        decoded protocol, TCP flags and traffic path, and container-id parts. Files with
        different formats are unioned by column name.

    Examples
    --------
    >>> lf = scan_flow_logs("data/samples/article", columns=["interface_id", "flow_direction"])
    >>> lf.group_by("flow_direction").len().sort("flow_direction").collect().rows()
    [('ingress', 5), ('egress', 5)]
    """
    strict = on_bad_lines == "error"
    start, end = as_utc(start), as_utc(end)
    # A window filters on start and end: read them even when not asked for.
    needed = columns
    if columns is not None and (start is not None or end is not None):
        asked = [column_name(c) for c in columns]
        needed = asked + [c for c in ("start", "end") if c not in asked]
    frames = _raw_frames(
        source,
        log_format=log_format,
        storage_options=storage_options,
        rename=rename,
        columns=needed,
        strict=strict,
        start=start,
        end=end,
        show_progress=progress,
    )
    cleaned = [
        clean_flow_logs(lf, on_bad_lines=on_bad_lines, include_file_paths=include_file_paths)
        for lf in frames
    ]
    flows = _union(cleaned, needed)
    if start is not None:
        flows = flows.filter(pl.col("end") >= start)
    if end is not None:
        flows = flows.filter(pl.col("start") < end)
    if needed is not columns:
        flows = flows.select([column_name(c) for c in columns])
    return flows


def read_flow_logs(
    source: Source,
    /,
    *,
    log_format: str | Sequence[str] | None = None,
    on_bad_lines: OnBadLines = "error",
    columns: Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
    include_file_paths: str | None = None,
    start: datetime | date | str | None = None,
    end: datetime | date | str | None = None,
    progress: bool | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> pl.DataFrame:
    """Load and clean VPC flow logs into a DataFrame; see :func:`scan_flow_logs`.

    With ``on_bad_lines="warn"`` one :class:`~ecsflow.clean.BadLinesWarning` summarises
    every line set aside.

    Examples
    --------
    >>> flows = read_flow_logs("data/samples/article")
    >>> flows.filter(pl.col("flow_direction") == "ingress")["traffic_path"].null_count()
    5
    """
    options = dict(
        log_format=log_format,
        columns=columns,
        rename=rename,
        include_file_paths=include_file_paths,
        start=start,
        end=end,
        progress=progress,
        storage_options=storage_options,
    )
    if on_bad_lines != "warn":
        return scan_flow_logs(source, on_bad_lines=on_bad_lines, **options).collect()
    kept = scan_flow_logs(source, on_bad_lines="skip", **options).collect()
    aside = bad_lines(
        source,
        log_format=log_format,
        columns=columns,
        rename=rename,
        start=start,
        end=end,
        storage_options=storage_options,
    )
    if aside.height:
        first = aside.row(0, named=True)
        where = first["path"] + (
            f", line {first['line_number']}" if first["line_number"] is not None else ""
        )
        warnings.warn(
            f"set aside {aside.height} bad line(s) and kept {kept.height}; first: {where}: "
            f"{first['reason']} (ecsflow.bad_lines() lists them all)",
            BadLinesWarning,
            stacklevel=2,
        )
    return kept


def bad_lines(
    source: Source,
    /,
    *,
    log_format: str | Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
    start: datetime | date | str | None = None,
    end: datetime | date | str | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> pl.DataFrame:
    """The lines of a source that are not valid records, with the reason for each.

    ``start`` and ``end`` limit the files read, as in :func:`scan_flow_logs`.

    Kept records (``read_flow_logs(source, on_bad_lines="skip")``) plus these lines are
    every record line of the input. A fault of a whole file (no header, a broken gzip
    stream) is one row with a null ``line_number``.

    Returns
    -------
    DataFrame
        Columns ``path``, ``line_number``, ``line`` (raw text, null for Parquet and CSV) and
        ``reason``, in file and line order.

    Examples
    --------
    >>> bad_lines("data/samples/article").height
    0
    """
    frames = _raw_frames(
        source,
        log_format=log_format,
        storage_options=storage_options,
        rename=rename,
        columns=columns,
        strict=False,
        start=as_utc(start),
        end=as_utc(end),
    )
    aside = [clean_flow_logs(lf, set_aside=True) for lf in frames]
    return pl.concat(aside).sort("path", "line_number", nulls_last=True).collect()
