"""Property tests (hypothesis) of the loader on generated and corrupted flow-log files.

- Records written in any field format (any subset and order of the registry's fields, valid
  values for each field's type, '-' for some) read back equal.
- Random corruption of a valid file (byte flips, truncation, inserted spaces and newlines, in
  the text or in its gzip stream) never raises anything but :class:`ecsflow.FlowLogError` in
  strict mode, and nothing at all in lenient mode.
- Lenient mode never loses count: rows kept + line faults set aside = non-blank record lines,
  unless a fault of the whole file stands for them.
"""

from __future__ import annotations

import contextlib
import gzip
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import ecsflow
from ecsflow.fields import FIELDS, MILLISECOND_EPOCH_THRESHOLD, Field
from tests.conftest import require

require("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Characters of string values: letters, digits, punctuation and symbols, never a separator.
TEXT = st.text(
    alphabet=st.characters(categories=("L", "N", "P", "S"), max_codepoint=0x2FFF),
    min_size=1,
    max_size=12,
).filter(lambda s: s != "-")
# What Rust's char::is_whitespace (polars' strip_chars) strips; Python's str.isspace adds
# \x1c-\x1f, which the loader does not treat as blank.
RUST_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
RUST_WHITESPACE += "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def _value(f: Field) -> st.SearchStrategy:
    """(text written, value expected) for one field; '-' reads as null."""
    dash = st.just(("-", None))
    if f.is_time:
        seconds = st.integers(0, MILLISECOND_EPOCH_THRESHOLD - 1)
        as_seconds = seconds.map(lambda s: (str(s), EPOCH + timedelta(seconds=s)))
        millis = st.integers(MILLISECOND_EPOCH_THRESHOLD, 4_102_444_800_000)
        as_millis = millis.map(lambda ms: (str(ms), EPOCH + timedelta(milliseconds=ms)))
        return st.one_of(as_seconds, as_millis, dash)
    if f.is_integer:
        lo, hi = f.valid or (-(2**31), 2**31 - 1)
        if f.dtype == pl.Int32:
            lo, hi = max(lo, -(2**31)), min(hi, 2**31 - 1)
        return st.one_of(st.integers(lo, hi).map(lambda v: (str(v), v)), dash)
    if isinstance(f.dtype, pl.Enum):
        cats = f.dtype.categories.to_list()
        return st.one_of(st.sampled_from(cats).map(lambda v: (v, v)), dash)
    return st.one_of(TEXT.map(lambda v: (v, v)), dash)


@st.composite
def formats_and_records(draw) -> tuple[list[Field], list[list[tuple[str, object]]]]:
    fields = draw(st.permutations(FIELDS).flatmap(lambda p: st.integers(1, len(p)).map(
        lambda n: list(p[:n]))))  # fmt: skip
    rows = draw(st.lists(st.tuples(*[_value(f) for f in fields]).map(list), min_size=1, max_size=6))
    return fields, rows


def _expected(fields: list[Field], rows: list[list[tuple[str, object]]]) -> pl.DataFrame:
    schema = {f.column: pl.String if f.dtype == pl.Categorical() else f.dtype for f in fields}
    data = {f.column: [row[i][1] for row in rows] for i, f in enumerate(fields)}
    return pl.DataFrame(data, schema=schema)


@SETTINGS
@given(
    case=formats_and_records(),
    gz=st.booleans(),
    eol=st.sampled_from(["\n", "\r\n"]),
    sep=st.sampled_from([" ", "  "]),
)
def test_any_format_reads_back_equal(case, gz: bool, eol: str, sep: str):
    fields, rows = case
    lines = [" ".join(f.name for f in fields)]
    lines += [sep.join(text for text, _ in row) for row in rows]
    data = (eol.join(lines) + eol).encode()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("flows.log.gz" if gz else "flows.log")
        path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
        flows = ecsflow.read_flow_logs(path)
    expected = _expected(fields, rows)
    got = flows.select(expected.columns).with_columns(
        pl.col(c).cast(pl.String) for c, t in flows.schema.items() if t == pl.Categorical()
        if c in expected.columns
    )  # fmt: skip
    assert_frame_equal(got, expected)


# --- corruption -------------------------------------------------------------------------

V5 = (
    "version interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr "
    "pkt-dstaddr protocol bytes packets start end action tcp-flags log-status flow-direction "
    "traffic-path ecs-service-name"
)
VALID = [V5] + [
    f"5 eni-{i:04x} 123456789012 IPv4 10.0.0.{i} 10.0.1.{i} {1000 + i} 443 - - 6 {100 * i} {i} "
    f"1700000000 1700000060 {'ACCEPT' if i % 3 else 'REJECT'} {i % 32} OK egress 1 svc-{i}"
    for i in range(1, 25)
]
VALID_BYTES = ("\n".join(VALID) + "\n").encode()


@st.composite
def corrupted(draw, data: bytes) -> bytes:
    """Apply 1 to 4 random edits: flip a byte, cut the tail, insert spaces or newlines."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        if not out:
            break
        pos = draw(st.integers(0, len(out) - 1))
        kind = draw(st.sampled_from(["flip", "truncate", "space", "newline", "bytes"]))
        if kind == "flip":
            out[pos] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del out[pos:]
        elif kind == "space":
            out[pos:pos] = b" " * draw(st.integers(1, 3))
        elif kind == "newline":
            out[pos:pos] = draw(st.sampled_from([b"\n", b"\r\n", b"\n\n", b"\r"]))
        else:
            out[pos:pos] = draw(st.binary(min_size=1, max_size=4))
    return bytes(out)


def _load_all(path: Path) -> None:
    """Strict mode: load, or raise FlowLogError (anything else propagates and fails the test)."""
    with contextlib.suppress(ecsflow.FlowLogError):
        ecsflow.read_flow_logs(path)


@SETTINGS
@given(data=corrupted(VALID_BYTES))
def test_corrupted_text_raises_only_flowlogerror(data: bytes):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "flows.log"
        path.write_bytes(data)
        _load_all(path)
        ecsflow.read_flow_logs(path, on_bad_lines="skip")  # lenient: never raises
        ecsflow.bad_lines(path)


@settings(SETTINGS, derandomize=True)
@given(data=corrupted(gzip.compress(VALID_BYTES, mtime=0)))
def test_corrupted_gzip_raises_only_flowlogerror(data: bytes):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "flows.log.gz"
        path.write_bytes(data)
        _load_all(path)
        ecsflow.read_flow_logs(path, on_bad_lines="skip")
        ecsflow.bad_lines(path)


def _record_lines(data: bytes) -> int:
    """Non-blank physical lines after the first (the header), as the loader counts them."""
    count = 0
    for raw in data.split(b"\n")[1:]:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            count += 1  # an invalid line is a fault, never blank
            continue
        count += bool(text.strip(RUST_WHITESPACE))
    return count


@SETTINGS
@given(data=corrupted(VALID_BYTES))
def test_lenient_mode_never_loses_count(data: bytes):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "flows.log"
        path.write_bytes(data)
        kept = ecsflow.read_flow_logs(path, on_bad_lines="skip")
        aside = ecsflow.bad_lines(path)
    whole_file = aside.filter(
        pl.col("line_number").is_null()
        # The no-header fault stands for its file but carries line 1 (the gap that
        # test_corpus.py::test_counts_add_up[missing_header.log.gz] records).
        | pl.col("reason").str.starts_with("no header line")
    )
    if whole_file.height:
        assert kept.height == 0
        return
    assert aside["line_number"].is_unique().all()
    assert (aside["line_number"] >= 2).all()  # the header is never a record
    assert kept.height + aside.height == _record_lines(data)


@pytest.mark.parametrize("fraction", [0.4, 0.6, 0.8, 0.95])
def test_gzip_cut_never_loses_count(fraction: float, tmp_path: Path):
    """A gzip stream cut anywhere: kept + set aside = the lines of the part that inflates."""
    import zlib

    whole_stream = gzip.compress(VALID_BYTES, mtime=0)
    data = whole_stream[: int(len(whole_stream) * fraction)]
    path = tmp_path / "cut.log.gz"
    path.write_bytes(data)
    text = zlib.decompressobj(31).decompress(data)
    kept = ecsflow.read_flow_logs(path, on_bad_lines="skip")
    aside = ecsflow.bad_lines(path)
    whole = text.count(b"\n") - 1  # complete record lines after the header
    assert kept.height == whole
    assert aside["line_number"].to_list() == [whole + 2]
