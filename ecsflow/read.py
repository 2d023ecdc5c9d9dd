"""Readers, one per delivery format, returning columns named from the file itself.

Each reader returns a LazyFrame with the file's fields (snake_case names, from the header
line, the Parquet schema, the CSV header or a declared format) plus four bookkeeping columns
that cleaning consumes. Text fields arrive in their storage dtypes (:mod:`ecsflow.values`:
integers, enums, categoricals, '-' as null); Parquet and CSV columns as the file has them.

``__file``
    the path or ``s3://`` URL;
``__line``
    the 1-based physical line number (the header is line 1; a Parquet row's number);
``__raw``
    the line as read, for lines of text blocks that needed the careful path (null for the
    regular blocks, whose every line is a valid record);
``__reason``
    why the line cannot be a record (wrong field count, bad encoding, a broken gzip stream),
    else null.

Text is decompressed in a streaming way (:mod:`ecsflow.inflate`) so that faults are reported
with their file and line, and a truncated gzip stream still yields the lines before the break.
Blocks of about 8 MB are parsed into typed columns by :mod:`ecsflow.blocks`, only the columns
asked for. This module finds each file's format, reads files a few at a time in threads,
bundles small ones, and hands polars one lazy scan per format.
"""

from __future__ import annotations

import queue
import re
import threading
import warnings
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import Any

import numpy as np
import polars as pl
from polars.io.plugins import register_io_source

from ecsflow.blocks import (
    FILE,
    INTERNAL,
    ISO_PREFIX_PATTERN,
    LINE,
    PATH_DTYPE,
    RAW,
    REASON,
    Block,
    TextFormat,
    fast_block,
    fault_frame,
    make_block,
    parse_block,
)
from ecsflow.errors import FlowLogError
from ecsflow.fields import DEFAULT_FORMAT, FIELD_BY_COLUMN, column_name, parse_log_format
from ecsflow.inflate import (
    BROKEN,
    GZIP_MAGIC,
    INFLATE_ERRORS,
    TRAILING,
    decompressor,
    inflate,
    prefetch,
    release_memory,
)
from ecsflow.sources import SourceFile, iter_bytes
from ecsflow.values import storage_schema

__all__ = ["FieldMismatchWarning", "TextFormat", "read_header", "scan_files", "text_format"]

# The bookkeeping columns (FILE, LINE, RAW, REASON) are defined with the blocks that fill them.
__all__ += ["FILE", "INTERNAL", "LINE", "RAW", "REASON"]

_HEADER_TOKEN = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
_ISO_PREFIX = re.compile(ISO_PREFIX_PATTERN)
_PEEK = 64 << 10
_BOM = b"\xef\xbb\xbf"
_WORKERS = 2
_READ_CHUNK = 1 << 20  # compressed bytes per read
_BLOCK = 8 << 20  # text bytes parsed at once: memory per file in flight is a few blocks
_LONE_BLOCK = 32 << 20  # for a file read alone: polars parses large blocks faster
_QUEUED_BLOCKS = 2
_BUNDLE_BYTES = 1 << 20  # compressed bytes of small files parsed together
_DONE = object()
_S3_WORKERS = 8
_S3_SMALL_OBJECT = 16 << 20
_PROGRESS_FILES = 20  # a bar is worth drawing from this many files on
TRUNCATED = "gzip stream ends early (truncated or corrupt); the lines before this one were read"


class FieldMismatchWarning(UserWarning):
    """A column's values do not look like the field its name says (finding 8)."""


def _read_errors() -> tuple[type[BaseException], ...]:
    try:
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError)
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return ()


_READ_ERRORS = _read_errors()


def read_header(
    file: SourceFile, *, storage_options: Mapping[str, Any] | None = None
) -> tuple[str | None, bool]:
    """The first line of a text file, and whether the file is gzip.

    Returns ``(None, is_gzip)`` for a file with no bytes or no line.

    Raises
    ------
    FlowLogError
        When the start of a gzip stream cannot be inflated.
    """
    raw = b"".join(iter_bytes(file, storage_options=storage_options, first=_PEEK))
    is_gzip = raw.startswith(GZIP_MAGIC)
    if is_gzip:
        try:
            raw = decompressor().decompress(raw, 16 * _PEEK)
        except INFLATE_ERRORS as exc:
            raise FlowLogError(file.path, None, f"gzip stream is corrupt ({exc})") from None
    line, _, _ = raw.removeprefix(_BOM).partition(b"\n")
    if not line:
        return None, is_gzip
    return line.rstrip(b"\r").decode("utf-8", errors="replace"), is_gzip


def _is_header(line: str) -> bool:
    # Fields are separated by spaces only, as in the records: a stray CR or tab is not one.
    tokens = [t for t in line.split(" ") if t]
    return (
        bool(tokens)
        and all(_HEADER_TOKEN.match(t) for t in tokens)
        and any(column_name(t) in FIELD_BY_COLUMN for t in tokens)
    )


def _text_blocks(
    file: SourceFile,
    fmt: TextFormat,
    storage_options: Mapping[str, Any] | None,
    block_bytes: int = _BLOCK,
) -> Iterator[Block | pl.DataFrame]:
    """Blocks of about ``block_bytes`` of whole lines, header skipped, in line order, and
    fault frames where the stream breaks."""
    line_no, parts, size, first, data = 1, [], 0, True, None
    header = fmt.has_header
    chunks = iter_bytes(file, storage_options=storage_options, chunk_size=_READ_CHUNK)
    for data in inflate(chunks):
        if data is BROKEN:
            # The stream breaks inside a line: that line is the fault, the ones before it
            # were read whole (a stream broken inside the header is a fault, not a header).
            pending = b"".join(parts)
            cut = -1 if header else pending.rfind(b"\n")
            if cut >= 0:
                block = make_block(pending[:cut], line_no, fmt)
                line_no += block.lines
                yield block
            rest = pending[cut + 1 :]
            if rest:
                yield fault_frame(line_no, rest, TRUNCATED)
            else:  # cut right after a whole line: no line is lost, the file is still damaged
                yield fault_frame(None, b"", "gzip stream ends early (truncated or corrupt)")
            return
        if data is TRAILING:
            break  # reported once the lines before it are parsed
        if first:
            data, first = data.removeprefix(_BOM), False
        if header:
            parts.append(data)
            joined = b"".join(parts)
            end = joined.find(b"\n")
            if end < 0:
                parts = [joined]
                continue
            header, line_no, data, parts = False, 2, joined[end + 1 :], []
        parts.append(data)
        size += len(data)
        if size < block_bytes:
            continue
        cut = data.rfind(b"\n")
        if cut < 0:
            continue
        # One copy per block: the earlier parts whole, the last one up to its final newline.
        block = make_block(b"".join([*parts[:-1], memoryview(data)[:cut]]), line_no, fmt)
        rest = data[cut + 1 :]
        parts, size = ([rest], len(rest)) if rest else ([], 0)
        line_no += block.lines
        yield block
    if header and parts:  # a file of one line: its header
        parts = []
    pending = b"".join(parts).removesuffix(b"\n")
    if pending:
        yield make_block(pending, line_no, fmt)
    if data is TRAILING:
        yield fault_frame(None, b"", "gzip stream is followed by bytes that are not gzip")


def _text_batches(
    file: SourceFile,
    fmt: TextFormat,
    want: set[str],
    storage_options: Mapping[str, Any] | None,
    stop: threading.Event | None = None,
    block_bytes: int = _BLOCK,
) -> Iterator[pl.DataFrame]:
    """Parsed blocks of a text file, in line order; large files inflate in a thread ahead."""
    blocks = _text_blocks(file, fmt, storage_options, block_bytes)
    if stop is not None and (file.size is None or file.size > _BUNDLE_BYTES):
        blocks = prefetch(blocks, stop)
    for item in blocks:
        yield item if isinstance(item, pl.DataFrame) else parse_block(item, fmt, want)


def text_format(
    file: SourceFile,
    *,
    log_format: str | Sequence[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> TextFormat:
    """The format of a text file, from its header line, or the declared or default format.

    Raises
    ------
    FlowLogError
        For an empty file, a file with no header where one is required, duplicate fields.
    """
    first, _ = read_header(file, storage_options=storage_options)
    has_header = first is not None and _is_header(first)
    cw_export = first is not None and bool(_ISO_PREFIX.match(first))
    if has_header:
        names = [t for t in first.split(" ") if t]
    elif log_format is not None or cw_export:
        names = parse_log_format(log_format or DEFAULT_FORMAT)
    elif first is None:
        raise FlowLogError(file.path, None, "empty file: no header line")
    else:
        raise FlowLogError(
            file.path,
            1,
            "no header line (the first line is a record); pass log_format= for headerless "
            "records such as CloudWatch Logs",
        )
    columns = [column_name(n) for n in names]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise FlowLogError(file.path, 1 if has_header else None, f"duplicate fields {dupes}")
    return TextFormat(tuple(columns), has_header, cw_export)


def _whole_text(file: SourceFile, fmt: TextFormat, storage_options) -> bytes | None:
    """A small file's records as one block (header, BOM and final newline removed), or None
    when it needs the careful, streaming path (a broken or trailing gzip stream)."""
    parts = []
    for data in inflate(iter_bytes(file, storage_options=storage_options)):
        if data is BROKEN or data is TRAILING:
            return None
        parts.append(data)
    text = b"".join(parts).removeprefix(_BOM)
    if fmt.has_header:
        text = text.partition(b"\n")[2]
    return text.removesuffix(b"\n")


def _bundle_frame(
    bundle: Sequence[SourceFile], fmt: TextFormat, want: set[str], storage_options
) -> pl.DataFrame | None:
    """Parse several small files with one CSV read: per-call overhead dominates small files.

    Returns None when any file is irregular; the caller then reads them one by one.
    """
    texts = []
    for file in bundle:
        try:
            text = _whole_text(file, fmt, storage_options)
        except (OSError, FlowLogError, *_READ_ERRORS):
            return None  # read one by one, so that the fault names its file
        if text is None:
            return None
        if text:
            texts.append((file.path, text))
    if not texts:
        return pl.DataFrame(
            schema={LINE: pl.Int64, RAW: pl.String, REASON: pl.String, FILE: PATH_DTYPE}
        )
    frame = fast_block(b"\n".join(t for _, t in texts), 1, list(fmt.columns), want)
    if frame is None:
        return None
    counts = [t.count(b"\n") + 1 for _, t in texts]
    first = 2 if fmt.has_header else 1
    lines = np.concatenate([np.arange(first, first + n, dtype=np.int64) for n in counts])
    paths = pl.Series(FILE, [p for p, _ in texts], PATH_DTYPE).gather(
        np.repeat(np.arange(len(texts)), counts)
    )
    return frame.with_columns(pl.Series(LINE, lines), paths)


def _fill(
    bundle: Sequence[SourceFile],
    fmt: TextFormat,
    want: set[str],
    storage_options: Mapping[str, Any] | None,
    out: queue.Queue,
    stop: threading.Event,
    block_bytes: int = _BLOCK,
) -> None:
    """Parse files into ``out``, block by block, then put :data:`_DONE` (or the error)."""

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    try:
        if len(bundle) > 1 and not fmt.cw_export:
            frame = _bundle_frame(bundle, fmt, want, storage_options)
            if frame is not None:
                put(frame)
                put(_DONE)
                return
        for file in bundle:
            try:
                for df in _text_batches(file, fmt, want, storage_options, stop, block_bytes):
                    if not put(df.with_columns(pl.lit(file.path, PATH_DTYPE).alias(FILE))):
                        return
                release_memory()
            except (OSError, FlowLogError, *_READ_ERRORS) as exc:
                # The file could not be read (permissions, network, disk): a fault of the
                # file, which strict mode raises and lenient mode sets aside.
                reason = exc.reason if isinstance(exc, FlowLogError) else f"could not read ({exc})"
                fault = fault_frame(None, b"", reason)
                if not put(fault.with_columns(pl.lit(file.path, PATH_DTYPE).alias(FILE))):
                    return
    except BaseException as exc:  # handed to the consumer, which raises it
        put(exc)
        return
    put(_DONE)


def _bundles(files: Sequence[SourceFile]) -> list[list[SourceFile]]:
    """Consecutive small files grouped up to :data:`_BUNDLE_BYTES` compressed bytes."""
    out: list[list[SourceFile]] = []
    size = 0
    for f in files:
        small = f.size is not None and f.size <= _BUNDLE_BYTES
        if small and out and size and size + f.size <= _BUNDLE_BYTES:
            out[-1].append(f)
            size += f.size
        else:
            out.append([f])
            # A large file (or one of unknown size) streams alone; nothing joins it.
            size = f.size if small else 0
    return out


def _progress_bar(files: Sequence[SourceFile], show: bool | None):
    from ecsflow.progress import progress

    if show is False or (show is None and len(files) < _PROGRESS_FILES):
        return None
    total = sum(f.size or 0 for f in files) or None
    options = {} if show is None else {"disable": False}
    return progress(total=total, desc="flow logs", unit="B", unit_scale=True, **options)


def _scan_text_files(
    files: Sequence[SourceFile],
    fmt: TextFormat,
    storage_options: Mapping[str, Any] | None,
    show_progress: bool | None = None,
    columns: Sequence[str] | None = None,
) -> pl.LazyFrame:
    """One lazy scan over many text files of one format, read a few at a time in threads.

    Only the fields in ``columns`` (all when None) are parsed and validated, and ``__reason``
    speaks for them alone: the projection is fixed here, not by the plan's, so that asking
    for ``__reason`` without the fields still validates them.
    """
    fields = [c for c in fmt.columns if columns is None or c in columns]
    want = set(fields)
    schema = {FILE: PATH_DTYPE, LINE: pl.Int64, RAW: pl.String, REASON: pl.String}
    schema |= storage_schema(fields)

    def source(with_columns, predicate, n_rows, batch_size) -> Iterator[pl.DataFrame]:
        produced, done, enough = 0, 0, False
        out_schema = schema if with_columns is None else {c: schema[c] for c in with_columns}
        bar = _progress_bar(files, show_progress)
        # Small S3 objects wait on the network more than on the CPU: keep more in flight.
        sizes = [f.size or 0 for f in files]
        small = files and all(f.is_s3 for f in files) and max(sizes) <= _S3_SMALL_OBJECT
        workers = _S3_WORKERS if small else _WORKERS
        # Inflating (ISA-L) and parsing (polars) release the GIL, so files in flight use both
        # cores. Each file's parsed blocks wait in a short queue: memory is bounded by the
        # files in flight times a few blocks, whatever the size of a file.
        stop = threading.Event()
        bundles = _bundles(files)
        # One file alone gets larger blocks (polars parses them faster); with several in
        # flight, smaller blocks keep the peak down.
        block_bytes = _LONE_BLOCK if len(bundles) == 1 else _BLOCK
        # Not a `with` block: polars may finalise this generator on a pool thread after an
        # early stop, and joining the pool from one of its own threads would fail.
        pool = ThreadPoolExecutor(max_workers=workers)
        flight: deque = deque()
        todo = iter(bundles)

        def launch(bundle: list[SourceFile]) -> None:
            q: queue.Queue = queue.Queue(maxsize=_QUEUED_BLOCKS)
            flight.append((q, bundle))
            pool.submit(_fill, bundle, fmt, want, storage_options, q, stop, block_bytes)

        try:
            for b in islice(todo, workers + 1):
                launch(b)
            while flight and not enough:
                q, bundle = flight.popleft()
                while (item := q.get()) is not _DONE:
                    if isinstance(item, BaseException):
                        raise item
                    df = item.select(
                        pl.col(c) if c in item.columns else pl.lit(None, t).alias(c)
                        for c, t in out_schema.items()
                    )
                    if predicate is not None:
                        df = df.filter(predicate)
                    yield df
                    produced += df.height
                    enough = n_rows is not None and produced >= n_rows
                    if enough:
                        break
                done += len(bundle)
                if bar is not None:
                    bar.update(sum(f.size or 0 for f in bundle))
                    bar.set_postfix(files=f"{done}/{len(files)}", rows=produced)
                if not enough and (nxt := next(todo, None)) is not None:
                    launch(nxt)
        finally:
            stop.set()  # workers blocked on a full queue give up
            pool.shutdown(wait=False, cancel_futures=True)
        if bar is not None:
            bar.close()

    # Pure: a plan that reads the same files twice (attribution does) reads them once.
    return register_io_source(
        source, schema=schema, is_pure=True, explain_name=f"flow-log text ({len(files)} files)"
    )


def _fault(file: SourceFile, reason: str, line: int | None) -> pl.LazyFrame:
    return pl.LazyFrame(
        {FILE: [file.path], LINE: [line], RAW: [None], REASON: [reason]},
        schema={FILE: PATH_DTYPE, LINE: pl.Int64, RAW: pl.String, REASON: pl.String},
    )


def _parquet_schema(
    file: SourceFile, storage_options: Mapping[str, Any] | None
) -> tuple[tuple[str, pl.DataType], ...] | FlowLogError:
    try:
        schema = pl.scan_parquet(file.path, storage_options=storage_options).collect_schema()
    except Exception as exc:  # the footer is unreadable: name the file
        return FlowLogError(file.path, None, f"not a readable Parquet file ({exc})")
    return tuple(schema.items())


def _scan_parquet_files(
    files: Sequence[SourceFile], storage_options: Mapping[str, Any] | None
) -> pl.LazyFrame:
    """One scan over Parquet files that share a schema; rows numbered within each file."""
    lf = pl.scan_parquet(
        [f.path for f in files], storage_options=storage_options, include_file_paths=FILE
    )
    names = [c for c in lf.collect_schema().names() if c != FILE]
    return lf.rename({c: column_name(c) for c in names}).with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(FILE).alias(LINE),
        pl.col(FILE).cast(PATH_DTYPE),
        pl.lit(None, pl.String).alias(RAW),
        pl.lit(None, pl.String).alias(REASON),
    )


def _scan_csv(file: SourceFile, storage_options: Mapping[str, Any] | None) -> pl.LazyFrame:
    lf = pl.scan_csv(
        file.path,
        infer_schema=False,
        storage_options=storage_options,
        row_index_name=LINE,
        row_index_offset=2,  # line 1 is the header
    )
    names = lf.collect_schema().names()
    lf = lf.rename({c: column_name(c) for c in names})
    return lf.with_columns(
        pl.col(LINE).cast(pl.Int64),
        pl.lit(file.path, PATH_DTYPE).alias(FILE),
        pl.lit(None, pl.String).alias(RAW),
        pl.lit(None, pl.String).alias(REASON),
    )


def _check_names(file: SourceFile, lf: pl.LazyFrame) -> None:
    """Warn when a column's values look like another field (e.g. a hand-written Athena DDL)."""
    sample = lf.head(50).collect()
    for col in sample.columns:
        f = FIELD_BY_COLUMN.get(col)
        if f is None or f.pattern is None or sample[col].dtype != pl.String:
            continue
        values = sample[col].drop_nulls().filter(sample[col].drop_nulls() != "-")
        if values.is_empty() or values.str.contains(f.pattern).any():
            continue
        looks_like = [
            g.column
            for g in FIELD_BY_COLUMN.values()
            if g.pattern and g is not f and values.str.contains(g.pattern).all()
        ]
        hint = f"; they look like {' or '.join(looks_like)}" if looks_like else ""
        warnings.warn(
            f"{file.path}: column {col!r} does not hold {f.name} values "
            f"(e.g. {values[0]!r}){hint}. Column names come from the file's header: if a "
            "hand-written table definition named them, fix it or pass rename=.",
            FieldMismatchWarning,
            stacklevel=4,
        )


def _peek_formats(
    files: Sequence[SourceFile],
    *,
    log_format: str | Sequence[str] | None,
    storage_options: Mapping[str, Any] | None,
) -> dict[str, TextFormat | FlowLogError]:
    """Every text file's format, peeked concurrently: on S3 each is a ranged GET."""

    def peek(file: SourceFile) -> TextFormat | FlowLogError:
        try:
            return text_format(file, log_format=log_format, storage_options=storage_options)
        except FlowLogError as err:
            return err
        except (OSError, *_READ_ERRORS) as exc:
            return FlowLogError(file.path, None, f"could not read ({exc})")

    workers = _S3_WORKERS if any(f.is_s3 for f in files) else _WORKERS
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip([f.path for f in files], pool.map(peek, files), strict=True))


def _renamed(lf: pl.LazyFrame, rename: Mapping[str, str] | None) -> pl.LazyFrame:
    if not rename:
        return lf
    present = lf.collect_schema().names()
    mapping = {column_name(k): column_name(v) for k, v in rename.items()}
    return lf.rename({k: v for k, v in mapping.items() if k in present})


def scan_files(
    files: Sequence[SourceFile],
    *,
    log_format: str | Sequence[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
    rename: Mapping[str, str] | None = None,
    strict: bool = True,
    show_progress: bool | None = None,
    columns: Sequence[str] | None = None,
) -> list[pl.LazyFrame]:
    """Raw, uncleaned LazyFrames with the bookkeeping columns: one per text format, one per
    Parquet or CSV file, and one per file-level fault when ``strict`` is false.

    ``columns`` (snake_case, after ``rename``) limits what text files parse; other readers
    return every column and leave the selection to the caller."""
    frames: list[pl.LazyFrame] = []
    groups: dict[TextFormat, list[SourceFile]] = {}
    formats = _peek_formats(
        [f for f in files if f.kind == "text"],
        log_format=log_format,
        storage_options=storage_options,
    )
    # Parquet files that share a schema are one scan: per-file plans cost more than the data.
    parquet = [f for f in files if f.kind == "parquet"]
    workers = _S3_WORKERS if any(f.is_s3 for f in parquet) else _WORKERS
    with ThreadPoolExecutor(max_workers=workers) as pool:
        schemas = list(pool.map(lambda f: _parquet_schema(f, storage_options), parquet))
    parquet_groups: dict[tuple, list[SourceFile]] = {}
    for file, schema in zip(parquet, schemas, strict=True):
        if isinstance(schema, FlowLogError):
            if strict:
                raise schema
            frames.append(_fault(file, schema.reason, None))
        else:
            parquet_groups.setdefault(schema, []).append(file)
    for members in parquet_groups.values():
        frames.append(_renamed(_scan_parquet_files(members, storage_options), rename))
    for file in files:
        if file.kind == "parquet":
            continue
        if file.kind == "csv":
            lf = _scan_csv(file, storage_options)
            if not rename:
                _check_names(file, lf)
            frames.append(_renamed(lf, rename))
        else:
            fmt = formats[file.path]
            if isinstance(fmt, FlowLogError):
                if strict:
                    raise fmt
                # A fault of the whole file: none of its lines can be read as records.
                frames.append(_fault(file, fmt.reason, None))
                continue
            groups.setdefault(fmt, []).append(file)
    if rename and columns is not None:
        # Parse the fields that the renamed columns come from.
        back = {column_name(v): column_name(k) for k, v in rename.items()}
        columns = [back.get(c, c) for c in columns]
    for fmt, members in groups.items():
        lf = _scan_text_files(members, fmt, storage_options, show_progress, columns)
        frames.append(_renamed(lf, rename))
    return frames
