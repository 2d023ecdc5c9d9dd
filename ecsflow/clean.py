"""Types, nulls, UTC times, derived columns and the bad-line policy.

Knows field semantics (from :mod:`ecsflow.fields`), not files or ECS tasks.

Examples
--------
>>> import polars as pl
>>> raw = pl.DataFrame({"srcport": ["443", "-"], "protocol": ["6", "1"], "start": ["1716158123", "1716158123000"]})
>>> clean_flow_logs(raw).select("srcport", "protocol_name", "start").rows()
[(443, 'TCP', datetime.datetime(2024, 5, 19, 22, 35, 23, tzinfo=zoneinfo.ZoneInfo(key='UTC'))), (None, 'ICMP', datetime.datetime(2024, 5, 19, 22, 35, 23, tzinfo=zoneinfo.ZoneInfo(key='UTC')))]
"""  # noqa: E501

from __future__ import annotations

import warnings
from typing import Literal, TypeVar

import polars as pl

from ecsflow.errors import FlowLogError
from ecsflow.fields import (
    CONTAINER_ID_COLUMNS,
    DERIVED_COLUMNS,
    FIELD_BY_COLUMN,
    FIELDS,
    MILLISECOND_EPOCH_THRESHOLD,
    TCP_FLAG_BITS,
    TCP_FLAG_LIST,
    Field,
)
from ecsflow.read import FILE, INTERNAL, LINE, RAW, REASON
from ecsflow.values import from_text, storage_dtype

__all__ = ["BadLinesWarning", "OnBadLines", "clean_flow_logs"]

OnBadLines = Literal["error", "warn", "skip"]
FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)


class BadLinesWarning(UserWarning):
    """Lines were set aside because they are not valid flow-log records."""


_FITS_INT64 = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32)


def _value(f: Field, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr | None]:
    """The cleaned value of one field, and why a row's value is bad (null if fine)."""
    col = pl.col(f.column)
    problems: list[pl.Expr] = []
    if f.is_time and isinstance(dtype, pl.Datetime):
        # A TIMESTAMP column (Parquet written by other tools): already a time, naive means UTC.
        zoned = col.dt.replace_time_zone("UTC") if dtype.time_zone is None else col
        return zoned.dt.convert_time_zone("UTC").cast(f.dtype), None
    if dtype == pl.String or (dtype != storage_dtype(f) and not dtype.is_numeric()):
        # Text, or text in another guise (a Categorical, an Enum of other values): parse it.
        col, reason = from_text(f, col if dtype == pl.String else col.cast(pl.String))
        if reason is not None:
            problems.append(reason)
        dtype = storage_dtype(f)
    elif isinstance(dtype, pl.Categorical):
        # Already categorical (the text reader's, or dictionary-encoded Parquet): AWS's '-'
        # rule still applies, compared on the categories rather than on every string.
        col = pl.when(col.is_in(["-", ""])).then(None).otherwise(col)
    if not (f.is_integer or f.is_time):
        out = col.cast(f.dtype)
        return out, (pl.coalesce(problems) if problems else None)
    num = col.cast(pl.Int64, strict=False)
    fractional = dtype.is_float() or isinstance(dtype, pl.Decimal)
    if fractional:
        # Parquet written by other tools can hold DOUBLEs: only whole numbers are counts.
        problems.append(
            pl.when(col.is_not_null() & (col != col.floor())).then(
                pl.format(f"{f.name}: {{}} is not an integer", col)
            )
        )
    if fractional or dtype not in _FITS_INT64:
        # A value beyond Int64's range (UInt64, Int128, Decimal, an infinity) casts to null:
        # say so.
        problems.append(
            pl.when(col.is_not_null() & num.is_null()).then(
                pl.format(f"{f.name}: {{}} is out of range", col)
            )
        )
    if f.valid:
        lo, hi = f.valid
        problems.append(
            pl.when((num < lo) | (num > hi)).then(
                pl.format(f"{f.name}: {{}} is out of range [{lo}, {hi}]", num)
            )
        )
    reason = pl.coalesce(problems) if problems else None
    if f.is_time:
        micros = (
            pl.when(num >= MILLISECOND_EPOCH_THRESHOLD).then(num * 1_000).otherwise(num * 1_000_000)
        )
        return micros.cast(f.dtype), reason
    # Out-of-range values become null; their rows are set aside by their reason.
    return num.cast(f.dtype, strict=False), reason


def _derived(columns: set[str]) -> list[pl.Expr]:
    out: list[pl.Expr] = []
    for f in FIELDS:
        if f.codes and f.column in columns:
            out.append(
                pl.col(f.column)
                .replace_strict(dict(f.codes), default=None, return_dtype=pl.String)
                .cast(pl.Categorical())
                .alias(f"{f.column}_name")
            )
    if "tcp_flags" in columns:
        # tcp-flags is one byte: look the 256 decodings up rather than test bits per row.
        out.append(
            pl.col("tcp_flags")
            .replace_strict(TCP_FLAG_NAMES, default=None, return_dtype=TCP_FLAG_LIST)
            .alias("tcp_flag_names")
        )
    for col in CONTAINER_ID_COLUMNS:
        if col in columns:
            # A Fargate id is "<32-hex task id>-<number>"; a 64-hex Docker id has no dash.
            # Categorical slices are worked out once per distinct id, not once per row.
            ids = pl.col(col).cast(pl.Categorical())
            head = ids.cat.slice(0, 33)
            number = ids.cat.slice(33).cast(pl.Int64, strict=False)
            fargate = (head.str.find("-", literal=True) == 32) & number.is_not_null()
            out += [
                pl.when(fargate)
                .then(head.str.slice(0, 32))
                .cast(pl.Categorical())
                .alias(f"{col}_task_id"),
                pl.when(fargate).then(number).alias(f"{col}_suffix"),
            ]
    return out


def tcp_flag_names(flags: int) -> list[str]:
    """The TCP flags of a ``tcp-flags`` value, SYN and ACK together read as SYN-ACK.

    >>> tcp_flag_names(19)
    ['FIN', 'SYN-ACK']
    >>> tcp_flag_names(0)
    []
    """
    syn_ack = flags & 18 == 18
    names = []
    for bit, name in TCP_FLAG_BITS.items():
        if bit == 2 and syn_ack:
            names.append("SYN-ACK")
        elif flags & bit and not (bit == 16 and syn_ack):
            names.append(name)
    return names


TCP_FLAG_NAMES: dict[int, list[str]] = {v: tcp_flag_names(v) for v in range(256)}


def _raise_first(batch: pl.Series, **_: object) -> pl.Series:
    # polars first offers `return_dtype=`; accepting it keeps errors free of a chained TypeError.
    reasons = batch.struct.field(REASON)
    if reasons.null_count() < len(reasons):
        row = batch.filter(reasons.is_not_null())[0]
        raise FlowLogError(row[FILE] or "<frame>", row[LINE], row[REASON])
    return reasons


def _warn_batch(batch: pl.Series, **_: object) -> pl.Series:
    reasons = batch.struct.field(REASON)
    bad = len(reasons) - reasons.null_count()
    if bad:
        row = batch.filter(reasons.is_not_null())[0]
        where = f"{row[FILE]}, line {row[LINE]}" if row[LINE] is not None else row[FILE]
        warnings.warn(
            f"set aside {bad} bad line(s); first: {where}: {row[REASON]} "
            "(ecsflow.bad_lines() lists them all)",
            BadLinesWarning,
            stacklevel=2,
        )
    return reasons


def clean_flow_logs(
    flows: FrameT,
    /,
    *,
    on_bad_lines: OnBadLines = "error",
    include_file_paths: str | None = None,
    set_aside: bool = False,
) -> FrameT:
    """Type and decode raw flow-log columns, and apply the bad-line policy.

    Parameters
    ----------
    flows
        Raw columns named in snake_case (strings from text, or Parquet's own types), as the
        readers return them. Bookkeeping columns (``__file``, ``__line``, ``__raw``,
        ``__reason``) are used for error messages when present.
    on_bad_lines
        ``"error"`` raises :class:`~ecsflow.FlowLogError` for the first bad line (its file,
        line number and reason); ``"warn"`` sets bad lines aside with a
        :class:`BadLinesWarning`; ``"skip"`` sets them aside silently.
    include_file_paths
        Name of a column to hold each record's source file, or ``None``.
    set_aside
        Return the set-aside lines instead (columns ``path``, ``line_number``, ``line``,
        ``reason``); used by :func:`ecsflow.bad_lines`.

    Returns
    -------
    DataFrame or LazyFrame
        Same kind as ``flows``: registry fields in registry order with their cleaned dtypes
        ('-' and empty values become null, ``start``/``end`` UTC datetimes with millisecond
        epochs recognised), then unknown fields (text with '-' as null; other dtypes as they
        are), then the derived columns.

    Examples
    --------
    >>> import polars as pl
    >>> raw = pl.DataFrame({"tcp-flags": ["19"], "traffic_path": ["8"]})
    >>> clean_flow_logs(raw.rename({"tcp-flags": "tcp_flags"})).row(0, named=True)
    {'tcp_flags': 19, 'traffic_path': 8, 'traffic_path_name': 'internet gateway', 'tcp_flag_names': ['FIN', 'SYN-ACK']}
    """  # noqa: E501
    if on_bad_lines not in ("error", "warn", "skip"):
        raise ValueError(f"on_bad_lines must be 'error', 'warn' or 'skip', not {on_bad_lines!r}")
    lazy = flows.lazy()
    schema = lazy.collect_schema()
    for name, dtype in (
        (FILE, pl.Categorical()),
        (LINE, pl.Int64),
        (RAW, pl.String),
        (REASON, pl.String),
    ):
        if name not in schema:
            lazy = lazy.with_columns(pl.lit(None, dtype).alias(name))
    fields = [f for f in FIELDS if f.column in schema]
    unknown = [c for c in schema if c not in FIELD_BY_COLUMN and c not in INTERNAL]

    values, reasons = [], [pl.col(REASON)]
    for f in fields:
        value, reason = _value(f, schema[f.column])
        values.append(value.alias(f.column))
        if reason is not None:
            reasons.append(reason)
    lazy = lazy.with_columns(
        *values,
        # AWS's global rule: '-' means "not applicable", whatever the field.
        *[pl.col(c).replace({"-": None, "": None}) for c in unknown if schema[c] == pl.String],
        pl.coalesce(reasons).alias(REASON),
    )

    if set_aside:
        out = lazy.filter(pl.col(REASON).is_not_null()).select(
            pl.col(FILE).cast(pl.String).alias("path"),
            pl.col(LINE).alias("line_number"),
            pl.col(RAW).alias("line"),
            pl.col(REASON).alias("reason"),
        )
        return out.collect() if isinstance(flows, pl.DataFrame) else out

    check = {"error": _raise_first, "warn": _warn_batch}.get(on_bad_lines)
    keep = pl.col(REASON).is_null()
    if check is not None:
        # A Python check per batch, inside the filter: a check in a side branch of the plan
        # was cheaper but a pushed-down .head() skipped it, bad rows and all.
        keep = (
            pl.struct(FILE, LINE, REASON)
            .map_batches(check, return_dtype=pl.String, is_elementwise=True)
            .is_null()
        )
    lazy = lazy.filter(keep)

    present = {f.column for f in fields}
    derived = _derived(present)
    order = (
        [f.column for f in fields]
        + unknown
        + [d.name for d in DERIVED_COLUMNS if d.name in {e.meta.output_name() for e in derived}]
    )
    if include_file_paths:
        order.append(include_file_paths)
        lazy = lazy.with_columns(pl.col(FILE).cast(pl.String).alias(include_file_paths))
    out = lazy.with_columns(derived).select(order)
    return out.collect() if isinstance(flows, pl.DataFrame) else out
