"""Amazon Athena: the table for a flow log's real format, and the reduction run remotely.

* :func:`ddl` writes ``CREATE EXTERNAL TABLE`` for a flow log's own format, generated from the
  field registry: columns in the format's order with their snake_case names (never a
  hand-made list: finding 8), AWS's Parquet types, text or Parquet storage and partition
  projection for AWS's four S3 layouts.
* :func:`aggregate_sql` compiles :func:`ecsflow.reduce.reduce_flows` (the one definition of the
  reduction) to Athena SQL through ibis, with partition filters so that only the time window
  is scanned.
* :func:`aggregate` runs that query with PyAthena's polars cursor and returns the frame the
  local analyses take (:func:`ecsflow.attribute_flows`, :func:`ecsflow.service_graph`).
* :func:`duckdb_table` emulates the Athena table on local files with DuckDB, so the generated
  SQL can be checked offline (after ``sqlglot.transpile(sql, read="athena", write="duckdb")``).

ibis, sqlglot, PyAthena and DuckDB are optional (``pip install 'ecsflow[athena]'``) and imported
only when needed; :func:`ddl` needs none of them.

Examples
--------
>>> print(ddl("${version} ${interface-id} ${end}", "s3://my-bucket/flows",
...           account_id="123456789012", regions=["us-east-1"]).splitlines()[1:4])
['  `version` int,', '  `interface_id` string,', '  `end` bigint']
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import polars as pl

from ecsflow.fields import FIELD_BY_COLUMN, column_name, parse_log_format
from ecsflow.reduce import DEFAULT_BUCKET, clean_aggregate, raw_dtype, reduce_flows
from ecsflow.sources import as_utc

__all__ = [
    "LAYOUTS",
    "PARTITION_SLACK",
    "add_cli",
    "aggregate",
    "aggregate_sql",
    "athena_type",
    "ddl",
    "duckdb_table",
    "open_header",
    "partition_columns",
]

Layout = Literal["default", "hourly", "hive", "hive-hourly"]
FileFormat = Literal["text", "parquet"]
LAYOUTS: tuple[str, ...] = ("default", "hourly", "hive", "hive-hourly")

#: How far a record's ``end`` (which decides its S3 folder) can lie after its ``start``: the
#: longest aggregation interval (10 minutes) plus AWS's documented delay of up to a minute.
PARTITION_SLACK = timedelta(minutes=15)

# Partition columns never reuse a field's name: AWS's projection example partitions by
# `region`, which shadows the v4 `region` field and shifts every later text column by one.
_ACCOUNT, _REGION = "aws_account_id", "aws_region"
_PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
_PARQUET_IN = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
_PARQUET_OUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


def athena_type(column: str) -> str:
    """The Athena (Hive DDL) type of a column: AWS's Parquet physical type.

    AWS's own DDL types ``protocol`` as ``bigint``, but its Parquet files hold ``INT32``; a
    Parquet table declared ``bigint`` fails on it ("Expected: bigint, Found: INT32"), so the
    registry's physical types are used for text and Parquet alike. Unknown fields are strings.

    >>> athena_type("protocol"), athena_type("bytes"), athena_type("ecs_task_id")
    ('int', 'bigint', 'string')
    """
    f = FIELD_BY_COLUMN.get(column)
    return {"INT_32": "int", "INT_64": "bigint"}.get(f.parquet, "string") if f else "string"


def _columns(log_format: str | Sequence[str]) -> list[str]:
    columns = [column_name(n) for n in parse_log_format(log_format)]
    seen: set[str] = set()
    for c in columns:
        if c in seen:
            raise ValueError(f"field {c!r} appears twice in the flow-log format")
        seen.add(c)
    return columns


def _check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")


def partition_columns(layout: Layout) -> list[str]:
    """The partition columns of a layout's table, as :func:`ddl` declares them.

    >>> partition_columns("default"), partition_columns("hive-hourly")[2:]
    (['aws_account_id', 'aws_region', 'day'], ['year', 'month', 'day', 'hour'])
    """
    _check_layout(layout)
    return [_ACCOUNT, _REGION] + {
        "default": ["day"],
        "hourly": ["date_hour"],
        "hive": ["year", "month", "day"],
        "hive-hourly": ["year", "month", "day", "hour"],
    }[layout]


def _root(location: str) -> str:
    """The flow log's S3 destination (the folder AWS writes ``AWSLogs/`` into)."""
    if not location.startswith("s3://"):
        raise ValueError(f"location must be an s3:// URL, not {location!r}")
    root = location.rstrip("/")
    root = root.removesuffix("/AWSLogs")
    return root


def _as_list(value: str | Sequence[str], name: str) -> list[str]:
    values = [value] if isinstance(value, str) else list(value)
    if not values or any(not v or "," in v for v in values):
        raise ValueError(f"{name}: give one or more values without commas, not {value!r}")
    return values


def ddl(
    log_format: str | Sequence[str],
    location: str,
    /,
    *,
    account_id: str | Sequence[str],
    regions: str | Sequence[str],
    table: str = "vpc_flow_logs",
    file_format: FileFormat = "text",
    layout: Layout = "default",
    start: date | str = "2015/01/01",
    until_year: int | None = None,
) -> str:
    """``CREATE EXTERNAL TABLE`` for a flow log's own format, with partition projection.

    Parameters
    ----------
    log_format
        The flow log's format: AWS's ``LogFormat`` (``"${version} ${account-id} ..."``, as
        ``aws ec2 describe-flow-logs`` prints it), the header line of one of its files, or a
        list of field names. Any subset and order of fields, every version.
    location
        The flow log's S3 destination (``s3://bucket/prefix``): the folder holding ``AWSLogs/``.
    account_id, regions
        The accounts and regions whose logs sit under ``location`` (enum projections).
    table
        Table name (optionally ``database.table``).
    file_format
        ``"text"`` (AWS's default delivery, gzip) or ``"parquet"``.
    layout
        AWS's S3 layout: ``"default"`` (``.../AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/``),
        ``"hourly"`` (``.../DD/HH/``), ``"hive"`` (``aws-account-id=.../year=YYYY/month=MM/day=DD/``)
        or ``"hive-hourly"`` (``.../hour=HH/``).
    start
        First day of the date projection (``date`` or ``"YYYY/MM/DD"``).
    until_year
        Last year of the Hive layouts' integer ``year`` projection (default: 20 years after
        ``start``).

    Returns
    -------
    str
        The statement. Columns are the fields' snake_case names in the format's order (text
        tables map columns by position) with AWS's Parquet types; every column is
        back-quoted (``end`` is a reserved word). Partition columns are ``aws_account_id``,
        ``aws_region`` and the layout's time columns (:func:`partition_columns`).

    Examples
    --------
    >>> sql = ddl("version account-id interface-id", "s3://b/p/", account_id="123456789012",
    ...           regions=["us-east-1", "eu-west-1"], layout="hourly")
    >>> print(sql)  # doctest: +NORMALIZE_WHITESPACE
    CREATE EXTERNAL TABLE IF NOT EXISTS `vpc_flow_logs` (
      `version` int,
      `account_id` string,
      `interface_id` string
    )
    PARTITIONED BY (`aws_account_id` string, `aws_region` string, `date_hour` string)
    ROW FORMAT DELIMITED
    FIELDS TERMINATED BY ' '
    LOCATION 's3://b/p/AWSLogs/'
    TBLPROPERTIES (
      'skip.header.line.count' = '1',
      'projection.enabled' = 'true',
      'projection.aws_account_id.type' = 'enum',
      'projection.aws_account_id.values' = '123456789012',
      'projection.aws_region.type' = 'enum',
      'projection.aws_region.values' = 'us-east-1,eu-west-1',
      'projection.date_hour.type' = 'date',
      'projection.date_hour.format' = 'yyyy/MM/dd/HH',
      'projection.date_hour.range' = '2015/01/01/00,NOW',
      'projection.date_hour.interval' = '1',
      'projection.date_hour.interval.unit' = 'HOURS',
      'storage.location.template' = 's3://b/p/AWSLogs/${aws_account_id}/vpcflowlogs/${aws_region}/${date_hour}'
    )
    """  # noqa: E501
    _check_layout(layout)
    if file_format not in ("text", "parquet"):
        raise ValueError(f"file_format must be 'text' or 'parquet', not {file_format!r}")
    columns = _columns(log_format)
    accounts, region_list = _as_list(account_id, "account_id"), _as_list(regions, "regions")
    first = start if isinstance(start, date) else datetime.strptime(start, "%Y/%m/%d").date()
    root = _root(location)
    props: list[tuple[str, str]] = []
    if file_format == "text":
        props.append(("skip.header.line.count", "1"))
    props += [
        ("projection.enabled", "true"),
        (f"projection.{_ACCOUNT}.type", "enum"),
        (f"projection.{_ACCOUNT}.values", ",".join(accounts)),
        (f"projection.{_REGION}.type", "enum"),
        (f"projection.{_REGION}.values", ",".join(region_list)),
    ]
    parts = partition_columns(layout)
    if layout in ("default", "hourly"):
        hourly = layout == "hourly"
        col = parts[-1]
        props += [
            (f"projection.{col}.type", "date"),
            (f"projection.{col}.format", "yyyy/MM/dd/HH" if hourly else "yyyy/MM/dd"),
            (f"projection.{col}.range", f"{first:%Y/%m/%d}{'/00' if hourly else ''},NOW"),
            (f"projection.{col}.interval", "1"),
            (f"projection.{col}.interval.unit", "HOURS" if hourly else "DAYS"),
        ]  # fmt: skip
        template = f"{root}/AWSLogs/${{{_ACCOUNT}}}/vpcflowlogs/${{{_REGION}}}/${{{col}}}"
    else:
        last = until_year if until_year is not None else first.year + 20
        ranges = {"year": (first.year, last, 4), "month": (1, 12, 2), "day": (1, 31, 2),
                  "hour": (0, 23, 2)}  # fmt: skip
        for col in parts[2:]:
            lo, hi, digits = ranges[col]
            props += [
                (f"projection.{col}.type", "integer"),
                (f"projection.{col}.range", f"{lo},{hi}"),
                (f"projection.{col}.digits", str(digits)),
            ]
        template = (
            f"{root}/AWSLogs/aws-account-id=${{{_ACCOUNT}}}/aws-service=vpcflowlogs/"
            f"aws-region=${{{_REGION}}}/" + "/".join(f"{c}=${{{c}}}" for c in parts[2:])
        )
    props.append(("storage.location.template", template))

    name = ".".join(f"`{p}`" for p in table.split("."))
    body = ",\n".join(f"  `{c}` {athena_type(c)}" for c in columns)
    partitioned = ", ".join(f"`{p}` string" for p in parts)
    if file_format == "text":
        storage = "ROW FORMAT DELIMITED\nFIELDS TERMINATED BY ' '"
    else:
        storage = (
            f"ROW FORMAT SERDE '{_PARQUET_SERDE}'\n"
            f"STORED AS INPUTFORMAT '{_PARQUET_IN}'\nOUTPUTFORMAT '{_PARQUET_OUT}'"
        )
    properties = ",\n".join(f"  '{k}' = '{v}'" for k, v in props)
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {name} (\n{body}\n)\n"
        f"PARTITIONED BY ({partitioned})\n{storage}\n"
        f"LOCATION '{root}/AWSLogs/'\nTBLPROPERTIES (\n{properties}\n)"
    )


def _window(
    start: datetime | date | str | None, end: datetime | date | str | None
) -> tuple[datetime, datetime]:
    lo, hi = as_utc(start), as_utc(end)
    if lo is None or hi is None:
        raise ValueError("give both start and end: only the window's partitions are scanned")
    if hi <= lo:
        raise ValueError(f"end ({hi}) must be after start ({lo})")
    return lo, hi


def _partition_filter(t: Any, layout: Layout, lo: datetime, hi: datetime) -> Any:
    """An ibis predicate on the partition columns covering records overlapping [lo, hi)."""
    import ibis

    last = hi + PARTITION_SLACK
    if layout == "default":
        return t.day.between(lo.strftime("%Y/%m/%d"), last.strftime("%Y/%m/%d"))
    if layout == "hourly":
        return t.date_hour.between(lo.strftime("%Y/%m/%d/%H"), last.strftime("%Y/%m/%d/%H"))
    # Integer projections prune on equalities: one (year, month, day[, hour]) term per day, or
    # per hour for an hourly layout and a window of up to two days.
    hourly = layout == "hive-hourly" and last - lo <= timedelta(hours=48)
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    point = lo.replace(minute=0, second=0, microsecond=0)
    if not hourly:
        point = point.replace(hour=0)
    terms = []
    while point <= last:
        term = (
            (t.year == f"{point.year:04d}")
            & (t.month == f"{point.month:02d}")
            & (t.day == f"{point.day:02d}")
        )
        terms.append(term & (t.hour == f"{point.hour:02d}") if hourly else term)
        point += step
    return ibis.or_(*terms)


def aggregate_sql(
    log_format: str | Sequence[str],
    /,
    *,
    start: datetime | date | str,
    end: datetime | date | str,
    table: str = "vpc_flow_logs",
    layout: Layout = "default",
    account_id: str | Sequence[str] | None = None,
    regions: str | Sequence[str] | None = None,
    bucket: int = DEFAULT_BUCKET,
    dialect: str = "athena",
) -> str:
    """The reduction (:func:`ecsflow.reduce.reduce_flows`) as Athena SQL for a :func:`ddl` table.

    The same narwhals definition that runs locally is applied to an unbound ibis table shaped
    like the Athena table and compiled by ibis; no SQL is written by hand. Only the window's
    partitions are read (a filter on the layout's partition columns, widened by
    :data:`PARTITION_SLACK` because a record's folder follows its ``end``), and only records
    overlapping ``[start, end)`` are aggregated. Epochs stay ``bigint`` (no ``from_unixtime``),
    so the result is safe for ``UNLOAD`` to Parquet.

    Parameters
    ----------
    log_format
        The table's flow-log format (as given to :func:`ddl`).
    start, end
        The time window (datetimes, naive meaning UTC, dates or ISO strings).
    table
        Table name (optionally ``database.table``).
    layout
        The table's S3 layout (as given to :func:`ddl`).
    account_id, regions
        Only these accounts and regions (partition filters); default all.
    bucket
        Seconds per time bucket.
    dialect
        sqlglot/ibis dialect name; ``"athena"`` (Trino) by default.

    Returns
    -------
    str
        One ``SELECT`` statement reading the table once.

    Examples
    --------
    >>> sql = aggregate_sql("version interface-id start end bytes", start="2024-06-03",
    ...                     end="2024-06-04")
    >>> "BETWEEN '2024/06/03' AND '2024/06/04'" in sql, "GROUP BY" in sql
    (True, True)
    """
    import ibis

    _check_layout(layout)
    columns = _columns(log_format)
    lo, hi = _window(start, end)
    types = {"Int32": "int32", "Int64": "int64"}
    schema = {c: types.get(raw_dtype(FIELD_BY_COLUMN[c]).__name__, "string") if c in FIELD_BY_COLUMN
              else "string" for c in columns}  # fmt: skip
    schema.update({p: "string" for p in partition_columns(layout)})
    database, _, name = table.rpartition(".")
    t = ibis.table(schema, name=name, database=database or None)
    predicates = [_partition_filter(t, layout, lo, hi)]
    if account_id is not None:
        predicates.append(t[_ACCOUNT].isin(_as_list(account_id, "account_id")))
    if regions is not None:
        predicates.append(t[_REGION].isin(_as_list(regions, "regions")))
    t = t.filter(*predicates)
    reduced = reduce_flows(t, bucket=bucket, start=lo, end=hi)
    return ibis.to_sql(reduced, dialect=dialect)


def aggregate(
    log_format: str | Sequence[str],
    /,
    *,
    start: datetime | date | str,
    end: datetime | date | str,
    table: str = "vpc_flow_logs",
    layout: Layout = "default",
    account_id: str | Sequence[str] | None = None,
    regions: str | Sequence[str] | None = None,
    bucket: int = DEFAULT_BUCKET,
    unload: bool = False,
    connection: Any = None,
    **connect_kwargs: Any,
) -> pl.DataFrame:
    """Run the reduction on Athena and return the frame the local analyses take.

    Parameters
    ----------
    log_format, start, end, table, layout, account_id, regions, bucket
        As for :func:`aggregate_sql`.
    unload
        Let PyAthena wrap the query in ``UNLOAD`` to Parquet (faster for large results; the
        query returns only ``bigint``, ``int`` and ``varchar`` columns, which UNLOAD can
        write). Not tested here: moto does not emulate UNLOAD.
    connection
        An open ``pyathena`` connection; otherwise one is opened with ``connect_kwargs``
        (``s3_staging_dir=``, ``work_group=``, ``region_name=``, ``schema_name=`` for the
        database, ...) and the standard AWS credential chain.

    Returns
    -------
    DataFrame
        The aggregate, cleaned as :func:`ecsflow.reduce.clean_aggregate` does: take it to
        :func:`ecsflow.attribute_flows` or :func:`ecsflow.service_graph`.
    """
    from pyathena import connect
    from pyathena.polars.cursor import PolarsCursor

    sql = aggregate_sql(
        log_format,
        start=start,
        end=end,
        table=table,
        layout=layout,
        account_id=account_id,
        regions=regions,
        bucket=bucket,
    )
    conn = connection or connect(cursor_class=PolarsCursor, **connect_kwargs)
    cursor = conn.cursor(PolarsCursor, unload=unload)
    try:
        frame = cursor.execute(sql).as_polars()
    finally:
        cursor.close()
        if connection is None:
            conn.close()
    return clean_aggregate(frame)


_PATH_PATTERNS = {
    "default": r"/AWSLogs/(\d+)/vpcflowlogs/([a-z0-9-]+)/(\d{4}/\d\d/\d\d)/",
    "hourly": r"/AWSLogs/(\d+)/vpcflowlogs/([a-z0-9-]+)/(\d{4}/\d\d/\d\d/\d\d)/",
    "hive": r"/aws-account-id=(\d+)/aws-service=vpcflowlogs/aws-region=([a-z0-9-]+)/"
    r"year=(\d{4})/month=(\d\d)/day=(\d\d)/",
    "hive-hourly": r"/aws-account-id=(\d+)/aws-service=vpcflowlogs/aws-region=([a-z0-9-]+)/"
    r"year=(\d{4})/month=(\d\d)/day=(\d\d)/hour=(\d\d)/",
}


def duckdb_table(
    con: Any,
    files: str | Path | Sequence[str | Path],
    /,
    *,
    log_format: str | Sequence[str],
    layout: Layout = "default",
    table: str = "vpc_flow_logs",
) -> Any:
    """A DuckDB view over local text deliveries, shaped like the Athena table of :func:`ddl`.

    A stand-in for Athena to check the generated SQL offline: columns in the format's order
    with Athena's types (``'-'`` in an integer column reads as NULL, as under Hive's
    LazySimpleSerDe; strings keep ``'-'``), plus the partition columns taken from each file's
    S3 key, as partition projection derives them.

    Parameters
    ----------
    con
        A ``duckdb`` connection.
    files
        Text flow-log files (``.log``/``.log.gz``) laid out as AWS writes them, or a glob.
    log_format
        Their format (every file must have it, header line first).
    layout
        Their S3 layout.
    table
        Name of the view.

    Returns
    -------
    DuckDBPyRelation
        The view.

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> files = "data/samples/article/AWSLogs/*/vpcflowlogs/*/*/*/*/*/*.log.gz"
    >>> fmt = open_header("data/samples/article")
    >>> rel = duckdb_table(con, files, log_format=fmt, layout="hourly")
    >>> con.sql("SELECT count(*), min(date_hour) FROM vpc_flow_logs").fetchall()
    [(10, '2024/05/19/21')]
    """
    _check_layout(layout)
    columns = _columns(log_format)
    paths = [str(files)] if isinstance(files, str | Path) else [str(f) for f in files]
    listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    spec = ", ".join(f"'{c}': 'VARCHAR'" for c in columns)
    exprs = []
    for c in columns:
        kind = athena_type(c)
        if kind == "string":
            exprs.append(f'"{c}"')
        else:
            sql_type = "INTEGER" if kind == "int" else "BIGINT"
            exprs.append(f'TRY_CAST(NULLIF("{c}", \'-\') AS {sql_type}) AS "{c}"')
    pattern = _PATH_PATTERNS[layout]
    for i, p in enumerate(partition_columns(layout), start=1):
        exprs.append(f"regexp_extract(filename, '{pattern}', {i}) AS \"{p}\"")
    con.sql(
        f'CREATE OR REPLACE VIEW "{table}" AS SELECT {", ".join(exprs)} FROM read_csv([{listed}], '
        f"delim=' ', header=true, columns={{{spec}}}, filename=true, quote='', escape='')"
    )
    return con.table(table)


def open_header(source: str | Path) -> str:
    """The header line (the flow log's format) of the first text delivery in ``source``.

    >>> open_header("data/samples/article").split()[:3]
    ['version', 'account-id', 'interface-id']
    """
    from ecsflow.read import read_header
    from ecsflow.sources import expand_source

    for file in expand_source(str(source)):
        line, _ = read_header(file)
        if line and not line[:1].isdigit():
            return line
    raise ValueError(f"no text flow-log file with a header line in {source!r}")


# --- command line -------------------------------------------------------------------------


def _format_arg(args: argparse.Namespace) -> str:
    if args.log_format:
        return args.log_format
    return open_header(args.sample)


def _common(p: argparse.ArgumentParser) -> None:
    fmt = p.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--log-format", help="the flow log's LogFormat ('${version} ${...} ...')")
    fmt.add_argument(
        "--sample", help="a flow-log file or folder whose header line gives the format"
    )
    p.add_argument("--layout", choices=LAYOUTS, default="default", help="S3 layout")
    p.add_argument("--table", default="vpc_flow_logs", help="table name (database.table)")


def _run_ddl(args: argparse.Namespace) -> int:
    print(
        ddl(
            _format_arg(args),
            args.location,
            account_id=args.account_id,
            regions=args.region,
            table=args.table,
            file_format=args.file_format,
            layout=args.layout,
            start=args.start,
        )
        + ";"
    )
    return 0


def _run_sql(args: argparse.Namespace) -> int:
    print(
        aggregate_sql(
            _format_arg(args),
            start=args.start,
            end=args.end,
            table=args.table,
            layout=args.layout,
            bucket=args.bucket,
        )
        + ";"
    )
    return 0


def _run_aggregate(args: argparse.Namespace) -> int:
    options = {
        k: v
        for k, v in {
            "s3_staging_dir": args.s3_staging_dir,
            "work_group": args.work_group,
            "region_name": args.region_name,
            "schema_name": args.database,
        }.items()
        if v
    }
    frame = aggregate(
        _format_arg(args),
        start=args.start,
        end=args.end,
        table=args.table,
        layout=args.layout,
        bucket=args.bucket,
        unload=args.unload,
        **options,
    )
    frame.write_parquet(args.out)
    print(f"wrote {frame.height} aggregated rows ({frame['records'].sum()} records) to {args.out}")
    return 0


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register ``ecsflow athena ddl|sql|aggregate``.

    >>> parser = argparse.ArgumentParser()
    >>> add_cli(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["athena", "ddl", "--log-format", "${version} ${end}",
    ...     "s3://b/p", "--account-id", "123456789012", "--region", "us-east-1"])
    >>> args.func(args)  # doctest: +ELLIPSIS
    CREATE EXTERNAL TABLE IF NOT EXISTS `vpc_flow_logs` (
      `version` int,
      `end` bigint
    )
    ...
    0
    """
    athena = subparsers.add_parser(
        "athena",
        help="Amazon Athena: the table DDL, the aggregate SQL, and running the aggregation",
        description="Create the Athena table for a flow log's format and run the reduction there.",
    )
    sub = athena.add_subparsers(dest="athena_command", required=True, metavar="ACTION")

    p = sub.add_parser("ddl", help="print CREATE EXTERNAL TABLE for a flow log's format")
    _common(p)
    p.add_argument("location", help="the flow log's S3 destination (the folder holding AWSLogs/)")
    p.add_argument("--account-id", action="append", required=True, help="repeatable")
    p.add_argument("--region", action="append", required=True, help="repeatable")
    p.add_argument("--file-format", choices=("text", "parquet"), default="text")
    p.add_argument("--start", default="2015/01/01", help="first day of the projection, YYYY/MM/DD")
    p.set_defaults(func=_run_ddl)

    for name, func, text in (
        ("sql", _run_sql, "print the aggregate query for a time window"),
        ("aggregate", _run_aggregate, "run the aggregate query on Athena, write Parquet"),
    ):
        p = sub.add_parser(name, help=text)
        _common(p)
        p.add_argument("--start", required=True, help="window start (ISO date or time, UTC)")
        p.add_argument("--end", required=True, help="window end (exclusive)")
        p.add_argument("--bucket", type=int, default=DEFAULT_BUCKET, help="seconds per bucket")
        if name == "aggregate":
            p.add_argument("--out", required=True, type=Path, help="output Parquet file")
            p.add_argument("--s3-staging-dir", help="Athena query result location (s3://...)")
            p.add_argument("--work-group")
            p.add_argument("--region-name")
            p.add_argument("--database", help="Athena database of the table")
            p.add_argument("--unload", action="store_true", help="UNLOAD to Parquet")
        p.set_defaults(func=func)
