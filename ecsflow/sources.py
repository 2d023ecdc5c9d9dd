"""Expand a source (path, directory, glob, list, ``s3://`` URL) into flow-log files.

Knows about files and S3 objects, not about their contents beyond the first bytes.
S3 listing and reads use boto3, so credentials come from the standard AWS chain, or from the
same ``storage_options`` dict that polars takes.

Examples
--------
>>> files = expand_source("data/samples/article")
>>> [f.kind for f in files][:2]
['text', 'text']
"""

from __future__ import annotations

import glob as globlib
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from ecsflow.errors import FlowLogError

__all__ = [
    "SourceFile",
    "as_utc",
    "end_time_range",
    "expand_source",
    "iter_bytes",
    "open_s3_client",
    "prune_by_time",
]

Source = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
Kind = Literal["text", "parquet", "csv"]

# Names a directory walk picks up: AWS's S3 deliveries (text and Parquet) and the numbered
# chunks of a CloudWatch Logs export. Athena CSV results and anything else (README files,
# `.csv.metadata`, ground truth) are read only when named explicitly.
_DELIVERY_NAME = re.compile(r"(\.log|\.log\.gz|\.log\.parquet|^\d+\.gz)$")
_GLOB_CHARS = re.compile(r"[*?\[]")
_CHUNK = 8 << 20


@dataclass(frozen=True)
class SourceFile:
    """One file or S3 object to read.

    Attributes
    ----------
    path
        Local absolute path, or an ``s3://bucket/key`` URL.
    kind
        ``"text"`` (S3 text delivery, CloudWatch records; gzip or plain), ``"parquet"`` or
        ``"csv"`` (Athena query results).
    size
        Size in bytes when known.
    """

    path: str
    kind: Kind
    size: int | None = None

    @property
    def is_s3(self) -> bool:
        return self.path.startswith("s3://")

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]


def _kind(name: str) -> Kind:
    lower = name.lower()
    if lower.endswith(".parquet"):
        return "parquet"
    if lower.endswith((".csv", ".csv.gz")):
        return "csv"
    return "text"


def _is_delivery(name: str) -> bool:
    return not name.startswith(".") and bool(_DELIVERY_NAME.search(name))


def _glob_regex(pattern: str) -> re.Pattern[str]:
    # `**` crosses folders, `*` and `?` do not, as in pathlib and polars.
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            j = pattern.find("]", i)
            out.append(pattern[i : j + 1] if j > 0 else re.escape("["))
            i = j + 1 if j > 0 else i + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


_CLIENTS: dict[tuple, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def open_s3_client(storage_options: Mapping[str, Any] | None = None):
    """A boto3 S3 client configured from polars-style ``storage_options``.

    Keys follow polars and object_store (``aws_access_key_id``, ``aws_secret_access_key``,
    ``aws_session_token``, ``aws_region``, ``aws_endpoint_url``, ``aws_skip_signature``, and
    their short aliases). Without them boto3's standard credential chain applies (environment,
    profiles, SSO, instance and container roles).

    Clients are shared (boto3 clients are thread-safe; creating them is not), one per set of
    options and ``AWS_*`` environment variables.
    """
    key = (
        tuple(sorted((str(k), str(v)) for k, v in (storage_options or {}).items())),
        tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_"))),
    )
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = _new_s3_client(storage_options)
        return _CLIENTS[key]


def _new_s3_client(storage_options: Mapping[str, Any] | None):
    import boto3
    from botocore.config import Config

    so = {k.lower(): v for k, v in (storage_options or {}).items()}

    def pick(*names: str) -> Any:
        return next((so[n] for n in names if so.get(n) not in (None, "")), None)

    kwargs: dict[str, Any] = {
        "aws_access_key_id": pick("aws_access_key_id", "access_key_id"),
        "aws_secret_access_key": pick("aws_secret_access_key", "secret_access_key"),
        "aws_session_token": pick("aws_session_token", "session_token", "aws_token", "token"),
        "region_name": pick("aws_region", "region", "aws_default_region", "default_region"),
        "endpoint_url": pick("aws_endpoint_url", "aws_endpoint", "endpoint_url", "endpoint"),
    }
    config = None
    if str(pick("aws_skip_signature", "skip_signature")).lower() == "true":
        from botocore import UNSIGNED

        config = Config(signature_version=UNSIGNED)
    return boto3.client("s3", config=config, **{k: v for k, v in kwargs.items() if v})


def _split_s3(url: str) -> tuple[str, str]:
    bucket, _, key = url[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"not an S3 URL with a bucket: {url!r}")
    return bucket, key


def _expand_s3(url: str, storage_options: Mapping[str, Any] | None) -> list[SourceFile]:
    bucket, key = _split_s3(url)
    client = open_s3_client(storage_options)
    glob_at = _GLOB_CHARS.search(key)
    prefix = key[: glob_at.start()] if glob_at else key
    matcher = _glob_regex(key) if glob_at else None
    found: list[SourceFile] = []
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            k, name = obj["Key"], obj["Key"].rsplit("/", 1)[-1]
            if k.endswith("/"):
                continue
            exact = not matcher and k == key
            under = not matcher and k.startswith(key.rstrip("/") + "/") if key else not matcher
            if matcher:
                if not matcher.match(k):
                    continue
            elif not (exact or (under and _is_delivery(name))):
                continue
            found.append(SourceFile(f"s3://{bucket}/{k}", _kind(name), obj.get("Size")))
    if not found and not glob_at:
        raise FileNotFoundError(f"no flow-log objects at {url}")
    return found


def _expand_local(path: str) -> list[SourceFile]:
    if _GLOB_CHARS.search(path):
        out: list[SourceFile] = []
        for hit in sorted(globlib.glob(path, recursive=True)):
            out += _expand_local(hit) if Path(hit).is_dir() else [_local_file(Path(hit))]
        return out
    p = Path(path)
    if p.is_dir():
        return [
            _local_file(f)
            for f in sorted(p.rglob("*"))
            if f.is_file()
            and _is_delivery(f.name)
            and not any(part.startswith(".") for part in f.relative_to(p).parts)
        ]
    if p.is_file():
        return [_local_file(p)]
    raise FileNotFoundError(f"no such file or directory: {path}")


def _local_file(p: Path) -> SourceFile:
    return SourceFile(str(p.resolve()), _kind(p.name), p.stat().st_size)


def expand_source(
    source: Source, *, storage_options: Mapping[str, Any] | None = None
) -> list[SourceFile]:
    """List the flow-log files of a source, in a stable order.

    Parameters
    ----------
    source
        A file, a directory (searched recursively for deliveries: ``*.log``, ``*.log.gz``,
        ``*.log.parquet`` and CloudWatch export chunks ``NNNNNN.gz``), a glob (``**``
        crosses folders), an ``s3://`` URL of an object, prefix or glob, or a list of these.
    storage_options
        S3 settings and credentials, as polars takes them.

    Returns
    -------
    list of SourceFile
        Without duplicates. A glob that matches nothing gives an empty list; a path that does
        not exist raises ``FileNotFoundError``.

    Examples
    --------
    >>> [f.name for f in expand_source("data/samples/article/athena/*.csv")][:1]
    ['athena-result-1-curl-deploy1.csv']
    """
    items = [source] if isinstance(source, str | os.PathLike) else list(source)
    out: dict[str, SourceFile] = {}
    for item in items:
        text = os.fspath(item)
        files = (
            _expand_s3(text, storage_options) if text.startswith("s3://") else _expand_local(text)
        )
        for f in files:
            out.setdefault(f.path, f)
    return list(out.values())


def iter_bytes(
    file: SourceFile,
    *,
    storage_options: Mapping[str, Any] | None = None,
    chunk_size: int = _CHUNK,
    first: int | None = None,
) -> Iterator[bytes]:
    """Yield the raw (still compressed) bytes of a file in chunks.

    ``first`` limits the read to the first bytes (a ranged GET on S3), for peeking at headers.
    """
    if file.is_s3:
        bucket, key = _split_s3(file.path)
        client = open_s3_client(storage_options)
        extra = {"Range": f"bytes=0-{first - 1}"} if first else {}
        try:
            body = client.get_object(Bucket=bucket, Key=key, **extra)["Body"]
        except client.exceptions.NoSuchKey as exc:
            raise FlowLogError(file.path, None, "object does not exist") from exc
        except Exception as exc:
            if "InvalidRange" in str(exc):  # ranged GET of an empty object
                return
            raise
        yield from body.iter_chunks(chunk_size)
        return
    with open(file.path, "rb") as fh:
        remaining = first
        while remaining is None or remaining > 0:
            block = fh.read(chunk_size if remaining is None else min(chunk_size, remaining))
            if not block:
                return
            if remaining is not None:
                remaining -= len(block)
            yield block


# The time a key can tell: AWS's 5-minute file name, else the hour or day of its prefix.
_NAME_TIME = re.compile(r"_(\d{8}T\d{4})Z_[^/]*$")
_HOUR_PREFIX = re.compile(
    r"(?:/|^)(?:year=)?(\d{4})/(?:month=)?(\d{2})/(?:day=)?(\d{2})/(?:hour=)?(\d{2})/[^/]+$"
)
_DAY_PREFIX = re.compile(r"(?:/|^)(?:year=)?(\d{4})/(?:month=)?(\d{2})/(?:day=)?(\d{2})/")
# A record's start precedes its end by at most the 10-minute aggregation interval plus the
# minute by which capture can lag; files group records by end time.
RECORD_SPAN = timedelta(minutes=11)


def end_time_range(path: str) -> tuple[datetime, datetime] | None:
    """The range of record *end* times a delivered file can hold, from its key alone.

    AWS names a file by the 5-minute window of its records' end times
    (``..._20240519T2235Z_hash.log.gz``); otherwise the hourly or daily prefix bounds it, in
    the default and the Hive-compatible layouts. ``None`` when the key tells nothing.

    Examples
    --------
    >>> end_time_range("AWSLogs/1/vpcflowlogs/us-east-1/2024/05/19/1_vpcflowlogs_us-east-1_fl-1_20240519T2235Z_ab.log.gz")
    (datetime.datetime(2024, 5, 19, 22, 35, tzinfo=datetime.timezone.utc), datetime.datetime(2024, 5, 19, 22, 40, tzinfo=datetime.timezone.utc))
    >>> end_time_range("x/year=2024/month=05/day=19/hour=07/part.log.parquet")[0].hour
    7
    >>> end_time_range("flows.log") is None
    True
    """  # noqa: E501
    if m := _NAME_TIME.search(path):
        lo = datetime.strptime(m.group(1), "%Y%m%dT%H%M").replace(tzinfo=UTC)
        return lo, lo + timedelta(minutes=5)
    if m := _HOUR_PREFIX.search(path):
        y, mo, d, h = map(int, m.groups())
        lo = datetime(y, mo, d, h, tzinfo=UTC)
        return lo, lo + timedelta(hours=1)
    if m := _DAY_PREFIX.search(path):
        lo = datetime(*map(int, m.groups()), tzinfo=UTC)
        return lo, lo + timedelta(days=1)
    return None


def as_utc(value: datetime | date | str | None) -> datetime | None:
    """A UTC datetime from a datetime (naive means UTC), a date or an ISO string.

    >>> as_utc("2024-05-19T22:00")
    datetime.datetime(2024, 5, 19, 22, 0, tzinfo=datetime.timezone.utc)
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    elif not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def prune_by_time(
    files: list[SourceFile],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    span: timedelta = RECORD_SPAN,
) -> list[SourceFile]:
    """The files whose records can overlap ``[start, end)``, judged from their keys.

    A record overlaps the window when its end is at or after ``start`` and its start, at
    most ``span`` before its end, is before ``end``. Files whose keys carry no time are kept.

    Examples
    --------
    >>> files = expand_source("data/samples/article")
    >>> len(prune_by_time(files, start=as_utc("2024-05-20")))
    1
    """
    if start is None and end is None:
        return files
    kept = []
    for f in files:
        bounds = end_time_range(f.path)
        if bounds is not None:
            lo, hi = bounds
            if start is not None and hi <= start:
                continue
            if end is not None and lo - span >= end:
                continue
        kept.append(f)
    return kept
