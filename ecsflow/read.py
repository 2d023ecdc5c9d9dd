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

Text is decompressed in a streaming way so that faults are reported with their file and line,
and a truncated gzip stream still yields the lines before the break. Blocks of about 8 MB are
proven regular with a few numpy passes and parsed by polars' CSV reader into typed columns,
only the columns asked for; any other block takes a careful path that names each fault.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import queue
import re
import threading
import warnings
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np
import polars as pl
from isal import igzip_lib
from polars.io.plugins import register_io_source

from ecsflow.errors import FlowLogError
from ecsflow.fields import DEFAULT_FORMAT, FIELD_BY_COLUMN, column_name, parse_log_format
from ecsflow.sources import SourceFile, iter_bytes
from ecsflow.values import from_text, in_range, regular_lines, storage_schema

__all__ = ["FieldMismatchWarning", "TextFormat", "read_header", "scan_files", "text_format"]

FILE, LINE, RAW, REASON = "__file", "__line", "__raw", "__reason"
# Paths repeat on every row of a file: categorical, 4 bytes a row instead of the whole path.
_PATH = pl.Categorical()
INTERNAL = (FILE, LINE, RAW, REASON)

_HEADER_TOKEN = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
# A CloudWatch Logs export to S3 writes "<event timestamp> <record>"; the timestamp is the
# record's start (shared/reference/flowlogs-format-corrections.md, B1).
_ISO_PREFIX_PATTERN = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z "
_ISO_PREFIX = re.compile(_ISO_PREFIX_PATTERN)
_PEEK = 64 << 10
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_WORKERS = 2
_READ_CHUNK = 1 << 20  # compressed bytes per read
_INFLATE_OUT = 4 << 20  # text bytes per inflate step
_BLOCK = 8 << 20  # text bytes parsed at once: memory per file in flight is a few blocks
_LONE_BLOCK = 32 << 20  # for a file read alone: polars parses large blocks faster
_CAREFUL_BYTES = 1 << 20  # pieces of an irregular block tried again on their own
_QUEUED_BLOCKS = 2
_BUNDLE_BYTES = 1 << 20  # compressed bytes of small files parsed together
_DONE = object()
_S3_WORKERS = 8
_S3_SMALL_OBJECT = 16 << 20
_EXTRA = "__extra"
_PROGRESS_FILES = 20  # a bar is worth drawing from this many files on
TRUNCATED = "gzip stream ends early (truncated or corrupt); the lines before this one were read"


class FieldMismatchWarning(UserWarning):
    """A column's values do not look like the field its name says (finding 8)."""


def _decompressor():
    # ISA-L's decompressor object keeps its own input buffer (no copy of the unconsumed tail
    # per call) and releases the GIL: 3x faster here than zlib-style decompressobj loops.
    return igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP)


INFLATE_ERRORS = (igzip_lib.IsalError, zlib.error, EOFError)


def _read_errors() -> tuple[type[BaseException], ...]:
    try:
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError)
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return ()


_READ_ERRORS = _read_errors()
# What `_inflate` yields besides bytes: the stream broke, or bytes follow its end.
BROKEN, TRAILING = object(), object()


def _inflate(chunks: Iterator[bytes]) -> Iterator[bytes | object]:
    """Decompress gzip (any number of members) or pass plain bytes through.

    Yields :data:`BROKEN` last if the stream ends early or is corrupt, and :data:`TRAILING`
    last if bytes that are not a gzip member follow the end of the stream.
    """
    first = next(chunks, b"")
    if not first.startswith(_GZIP_MAGIC):
        if first:
            yield first
        yield from chunks
        return
    d, data = _decompressor(), first
    while True:
        try:
            # Bounded output: flow logs compress 10-100x, and memory should not.
            out = d.decompress(data, _INFLATE_OUT)
        except INFLATE_ERRORS:
            yield BROKEN
            return
        data = b""
        if out:
            yield out
        if d.eof:
            rest = d.unused_data or next(chunks, None)
            while rest is not None and not rest:
                rest = next(chunks, None)
            if rest is None:
                return
            if not _GZIP_MAGIC.startswith(rest[:2]):
                yield TRAILING
                return
            d, data = _decompressor(), rest
        elif d.needs_input:
            data = next(chunks, None)
            if data is None:
                yield BROKEN  # the stream ends inside a member
                return


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
    is_gzip = raw.startswith(_GZIP_MAGIC)
    if is_gzip:
        try:
            raw = _decompressor().decompress(raw, 16 * _PEEK)
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


@dataclass(frozen=True)
class TextFormat:
    """How the records of a text file are laid out: files with equal formats read together."""

    columns: tuple[str, ...]
    has_header: bool
    cw_export: bool


def _lines_frame(block: bytes, first_line: int) -> pl.DataFrame:
    expected = block.count(b"\n") + 1
    try:
        df = pl.read_lines(block + b"\n", name=RAW)
        if df.height != expected:
            raise ValueError("line count mismatch")
        reasons = pl.Series(REASON, [None] * df.height, dtype=pl.String)
        df = df.with_columns(reasons)
    except Exception:  # invalid UTF-8 somewhere in the block: go line by line
        texts, reasons_list = [], []
        for b in block.split(b"\n"):
            b = b.rstrip(b"\r")
            try:
                texts.append(b.decode("utf-8"))
                reasons_list.append(None)
            except UnicodeDecodeError as exc:
                texts.append(b.decode("utf-8", errors="replace"))
                reasons_list.append(f"invalid UTF-8 at byte {exc.start}")
        df = pl.DataFrame(
            {RAW: texts, REASON: reasons_list}, schema={RAW: pl.String, REASON: pl.String}
        )
    return df.with_columns(
        pl.int_range(first_line, first_line + df.height, dtype=pl.Int64).alias(LINE)
    )


def _typed(column: str, text: pl.Expr) -> tuple[pl.Expr, pl.Expr | None]:
    f = FIELD_BY_COLUMN.get(column)
    if f is None:  # not a registered field: text, with AWS's '-' rule
        return pl.when(text.is_in(["-", ""])).then(None).otherwise(text), None
    return from_text(f, text)


def _split_lines(
    lines: pl.DataFrame, columns: list[str], want: set[str], cw_export: bool
) -> pl.DataFrame:
    """Split raw lines into typed fields: the careful path, for blocks the CSV reader can't
    take. Every line's field count is checked; only the wanted fields are typed."""
    n = len(columns)
    body = pl.col(RAW).str.strip_chars(" \t\r")
    if cw_export:
        body = body.str.replace(_ISO_PREFIX_PATTERN, "")
    # AWS's own examples contain double spaces: a run of spaces is one separator.
    body = body.str.replace_all(" {2,}", " ")
    count = body.str.count_matches(" ", literal=True) + 1
    parts = body.str.splitn(" ", n)
    reasons = [
        pl.col(REASON),
        pl.when(pl.col(RAW).is_not_null() & (count != n)).then(
            pl.format(f"expected {n} fields, found {{}}", count)
        ),
    ]
    values = []
    for i, c in enumerate(columns):
        if c in want:
            value, reason = _typed(c, pl.col(f"__{i}"))
            values.append(value.alias(c))
            if reason is not None:
                reasons.append(reason)
    return (
        lines.filter(
            # Blank lines are not records: nothing to keep, nothing to set aside.
            pl.col(REASON).is_not_null() | (pl.col(RAW).str.strip_chars() != "")
        )
        .with_columns(
            *[parts.struct.field(f"field_{i}").alias(f"__{i}") for i in range(n)],
        )
        .select(pl.col(LINE), pl.col(RAW), pl.coalesce(reasons).alias(REASON), *values)
    )


def _fast_block(
    block: bytes, first_line: int, columns: list[str], want: set[str], lines: int | None = None
) -> pl.DataFrame | None:
    """Parse a block straight into storage dtypes with polars' CSV reader, or return None
    to take the careful path.

    Only blocks proven regular are taken: every line has exactly the format's fields
    (:func:`~ecsflow.values.regular_lines`, whose result may be passed as ``lines``), every
    wanted value parses (the reader raises otherwise) and every integer is in its field's
    range. Only wanted fields are parsed.
    """
    if lines is None:
        lines = regular_lines(block, len(columns))
    if lines is None:
        return None
    picked = [i for i, c in enumerate(columns) if c in want]
    try:
        df = pl.read_csv(
            block,
            has_header=False,
            separator=" ",
            quote_char=None,
            # One column more than the format: a line with one field too many fills it (and
            # one with more fails), which the separator count alone cannot see.
            schema=storage_schema(columns) | {_EXTRA: pl.String},
            columns=[*picked, len(columns)],
            null_values=dict.fromkeys(columns, "-"),
            missing_columns="insert",
        )
    except Exception:
        return None
    if df.height != lines or df[_EXTRA].null_count() != lines or not in_range(df):
        return None
    df = df.drop(_EXTRA)
    return df.with_columns(
        pl.int_range(first_line, first_line + lines, dtype=pl.Int64).alias(LINE),
        pl.lit(None, pl.String).alias(RAW),
        pl.lit(None, pl.String).alias(REASON),
    )


@dataclass(frozen=True)
class _Block:
    """Text lines of one file, with what the inflating thread already found out."""

    text: bytes
    first_line: int
    lines: int  # physical lines
    regular: bool  # every line passed `regular_lines`


def _block(text: bytes, first_line: int, fmt: TextFormat) -> _Block:
    regular = None if fmt.cw_export else regular_lines(text, len(fmt.columns))
    lines = regular if regular is not None else text.count(b"\n") + 1
    return _Block(text, first_line, lines, regular is not None)


def _pieces(text: bytes, size: int) -> Iterator[bytes]:
    """``text`` cut at line ends into pieces of about ``size`` bytes."""
    start = 0
    while start < len(text):
        end = text.find(b"\n", start + size)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1
    if text.endswith(b"\n"):
        yield b""  # the last line is empty


def _parse_block(block: _Block, fmt: TextFormat, want: set[str]) -> pl.DataFrame:
    """Typed fields of every line of a block: fast when regular, else the careful path.

    An irregular block is cut into pieces of :data:`_CAREFUL_BYTES` that are tried again:
    one bad line sends only its piece down the careful path, which bounds its cost.
    """
    columns = list(fmt.columns)
    if block.regular:
        fast = _fast_block(block.text, block.first_line, columns, want, block.lines)
        if fast is not None:
            return fast
    if len(block.text) > 2 * _CAREFUL_BYTES and not fmt.cw_export:
        frames, line = [], block.first_line
        for piece in _pieces(block.text, _CAREFUL_BYTES):
            part = _block(piece, line, fmt)
            frames.append(_parse_block(part, fmt, want))
            line += part.lines
        return pl.concat(frames, how="diagonal_relaxed")
    lines = _lines_frame(block.text, block.first_line)
    return _split_lines(lines, columns, want, fmt.cw_export)


def _fault_frame(line: int | None, raw: bytes, reason: str) -> pl.DataFrame:
    return pl.DataFrame(
        {LINE: [line], RAW: [raw.decode("utf-8", errors="replace") or None], REASON: [reason]},
        schema={LINE: pl.Int64, RAW: pl.String, REASON: pl.String},
    )


def _text_blocks(
    file: SourceFile,
    fmt: TextFormat,
    storage_options: Mapping[str, Any] | None,
    block_bytes: int = _BLOCK,
) -> Iterator[_Block | pl.DataFrame]:
    """Blocks of about ``block_bytes`` of whole lines, header skipped, in line order, and
    fault frames where the stream breaks."""
    line_no, parts, size, first, data = 1, [], 0, True, None
    header = fmt.has_header
    chunks = iter_bytes(file, storage_options=storage_options, chunk_size=_READ_CHUNK)
    for data in _inflate(chunks):
        if data is BROKEN:
            # The stream breaks inside a line: that line is the fault, the ones before it
            # were read whole (a stream broken inside the header is a fault, not a header).
            pending = b"".join(parts)
            cut = -1 if header else pending.rfind(b"\n")
            if cut >= 0:
                block = _block(pending[:cut], line_no, fmt)
                line_no += block.lines
                yield block
            rest = pending[cut + 1 :]
            if rest:
                yield _fault_frame(line_no, rest, TRUNCATED)
            else:  # cut right after a whole line: no line is lost, the file is still damaged
                yield _fault_frame(None, b"", "gzip stream ends early (truncated or corrupt)")
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
        block = _block(b"".join([*parts[:-1], memoryview(data)[:cut]]), line_no, fmt)
        rest = data[cut + 1 :]
        parts, size = ([rest], len(rest)) if rest else ([], 0)
        line_no += block.lines
        yield block
    if header and parts:  # a file of one line: its header
        parts = []
    pending = b"".join(parts).removesuffix(b"\n")
    if pending:
        yield _block(pending, line_no, fmt)
    if data is TRAILING:
        yield _fault_frame(None, b"", "gzip stream is followed by bytes that are not gzip")


def _prefetch(items: Iterator, stop: threading.Event, depth: int = _QUEUED_BLOCKS) -> Iterator:
    """Run ``items`` in a thread of its own, ``depth`` items ahead of the consumer.

    Inflating and checking a block (ISA-L and numpy release the GIL) then overlap with
    parsing the one before it. Stops when ``stop`` is set or the consumer goes away.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    gone = threading.Event()

    def run() -> None:
        try:
            for item in items:
                while not (stop.is_set() or gone.is_set()):
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                else:
                    return
            q.put(_DONE)
        except BaseException as exc:  # re-raised in the consumer
            q.put(exc)

    threading.Thread(target=run, daemon=True, name="ecsflow-inflate").start()
    try:
        while (item := q.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        gone.set()


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
        blocks = _prefetch(blocks, stop)
    for item in blocks:
        yield item if isinstance(item, pl.DataFrame) else _parse_block(item, fmt, want)


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
    for data in _inflate(iter_bytes(file, storage_options=storage_options)):
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
        except (OSError, *_READ_ERRORS):
            return None  # read one by one, so that the fault names its file
        if text is None:
            return None
        if text:
            texts.append((file.path, text))
    if not texts:
        return pl.DataFrame(schema={LINE: pl.Int64, RAW: pl.String, REASON: pl.String, FILE: _PATH})
    frame = _fast_block(b"\n".join(t for _, t in texts), 1, list(fmt.columns), want)
    if frame is None:
        return None
    counts = [t.count(b"\n") + 1 for _, t in texts]
    first = 2 if fmt.has_header else 1
    lines = np.concatenate([np.arange(first, first + n, dtype=np.int64) for n in counts])
    paths = pl.Series(FILE, [p for p, _ in texts], _PATH).gather(
        np.repeat(np.arange(len(texts)), counts)
    )
    return frame.with_columns(pl.Series(LINE, lines), paths)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None).malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None


def _release_memory() -> None:
    """Hand the C heap's free memory back to the system (glibc only).

    Blocks are allocated in one thread and freed in another, so glibc's per-thread arenas
    keep their freed pages: without this a 10-file load peaked 15% higher (2.2 against
    1.9 GiB for 5 M records). Called once per file; it costs about a millisecond.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


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
                    if not put(df.with_columns(pl.lit(file.path, _PATH).alias(FILE))):
                        return
                _release_memory()
            except (OSError, FlowLogError, *_READ_ERRORS) as exc:
                # The file could not be read (permissions, network, disk): a fault of the
                # file, which strict mode raises and lenient mode sets aside.
                reason = exc.reason if isinstance(exc, FlowLogError) else f"could not read ({exc})"
                fault = _fault_frame(None, b"", reason)
                if not put(fault.with_columns(pl.lit(file.path, _PATH).alias(FILE))):
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
    schema = {FILE: _PATH, LINE: pl.Int64, RAW: pl.String, REASON: pl.String}
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
        schema={FILE: _PATH, LINE: pl.Int64, RAW: pl.String, REASON: pl.String},
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
        pl.col(FILE).cast(_PATH),
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
        pl.lit(file.path, _PATH).alias(FILE),
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
