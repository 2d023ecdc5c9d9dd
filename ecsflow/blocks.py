"""Text blocks to typed rows: the fast path, proven regular, and the careful one.

A block is whole lines of one file. :func:`parse_block` parses a regular block with polars'
CSV reader straight into storage dtypes (:mod:`ecsflow.values`), only the wanted fields; any
other block is retried in pieces, and the pieces with a fault go line by line, each bad line
with its reason. Pure functions of bytes: no I/O here.

Every frame carries the bookkeeping columns that cleaning consumes: ``__line`` (the physical
line number), ``__raw`` (the line's text, for lines that took the careful path) and
``__reason`` (why the line is not a record, else null); the reader adds ``__file``.

Examples
--------
>>> fmt = TextFormat(("srcport", "action"), has_header=False, cw_export=False)
>>> parse_block(make_block(b"443 ACCEPT\\n80 DENY", 1, fmt), fmt, {"srcport", "action"}).rows()
[(1, '443 ACCEPT', None, 443, 'ACCEPT'), (2, '80 DENY', "action: 'DENY' is not one of ACCEPT, REJECT", 80, None)]
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl

from ecsflow.fields import FIELD_BY_COLUMN
from ecsflow.values import from_text, in_range, regular_lines, storage_schema

__all__ = ["Block", "TextFormat", "fast_block", "fault_frame", "make_block", "parse_block"]

FILE, LINE, RAW, REASON = "__file", "__line", "__raw", "__reason"
INTERNAL = (FILE, LINE, RAW, REASON)
# Paths repeat on every row of a file: categorical, 4 bytes a row instead of the whole path.
PATH_DTYPE = pl.Categorical()
# A CloudWatch Logs export to S3 writes "<event timestamp> <record>"; the timestamp is the
# record's start (shared/reference/flowlogs-format-corrections.md, B1).
ISO_PREFIX_PATTERN = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z "
CAREFUL_BYTES = 1 << 20  # pieces of an irregular block tried again on their own
_EXTRA = "__extra"


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
        body = body.str.replace(ISO_PREFIX_PATTERN, "")
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


def fast_block(
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
class Block:
    """Text lines of one file, with what the inflating thread already found out."""

    text: bytes
    first_line: int
    lines: int  # physical lines
    regular: bool  # every line passed `regular_lines`


def make_block(text: bytes, first_line: int, fmt: TextFormat) -> Block:
    regular = None if fmt.cw_export else regular_lines(text, len(fmt.columns))
    lines = regular if regular is not None else text.count(b"\n") + 1
    return Block(text, first_line, lines, regular is not None)


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


def parse_block(block: Block, fmt: TextFormat, want: set[str]) -> pl.DataFrame:
    """Typed fields of every line of a block: fast when regular, else the careful path.

    An irregular block is cut into pieces of :data:`CAREFUL_BYTES` that are tried again:
    one bad line sends only its piece down the careful path, which bounds its cost.
    """
    if len(block.text) <= 2 * CAREFUL_BYTES or fmt.cw_export:
        return _parse_whole(block, fmt, want)
    if block.regular:
        fast = fast_block(block.text, block.first_line, list(fmt.columns), want, block.lines)
        if fast is not None:
            return fast
    frames, line = [], block.first_line
    for piece in _pieces(block.text, CAREFUL_BYTES):
        # Once: a piece is whatever lies between line ends, however long one line is.
        part = make_block(piece, line, fmt)
        frames.append(_parse_whole(part, fmt, want))
        line += part.lines
    return pl.concat(frames, how="diagonal_relaxed")


def _parse_whole(block: Block, fmt: TextFormat, want: set[str]) -> pl.DataFrame:
    if block.regular:
        fast = fast_block(block.text, block.first_line, list(fmt.columns), want, block.lines)
        if fast is not None:
            return fast
    lines = _lines_frame(block.text, block.first_line)
    return _split_lines(lines, list(fmt.columns), want, fmt.cw_export)


def fault_frame(line: int | None, raw: bytes, reason: str) -> pl.DataFrame:
    return pl.DataFrame(
        {LINE: [line], RAW: [raw.decode("utf-8", errors="replace") or None], REASON: [reason]},
        schema={LINE: pl.Int64, RAW: pl.String, REASON: pl.String},
    )
