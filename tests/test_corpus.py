"""The broken-input corpus (tests/corpus/): what strict and lenient loading do with each file.

Each case says what strict mode does (loads N rows, or raises :class:`ecsflow.FlowLogError`
naming the file and line) and what lenient mode does (rows kept, lines set aside with a
reason), and every case checks that the counts add up: per file, rows kept plus lines set
aside equal the record lines of the input, unless a fault of the whole file (null
``line_number``) stands for it. ``tests/corpus/README.md`` is the same table in prose.

Cases where the loader does not do what it should are marked ``xfail(strict=True)`` with the
expected behaviour in the reason: they turn into failures once the loader is fixed, so the
mark can then be dropped.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import ecsflow

CORPUS = Path(__file__).resolve().parent / "corpus"


@dataclass(frozen=True)
class Case:
    """One corpus entry.

    ``error`` is ``(line, reason fragment)`` for strict mode, or ``None`` when it loads ``rows``
    records. ``aside`` lists ``(file name or None, line, reason fragment)`` that lenient mode
    sets aside; ``kept`` the rows it keeps. ``records`` is the number of record lines per file
    (physical non-blank lines after the header; Parquet rows). ``xfail`` maps a check
    (``strict``, ``lenient``, ``counts``) to the expected behaviour the loader misses.
    """

    name: str
    error: tuple[int | None, str] | None = None
    rows: int = 0
    kept: int = 0
    aside: tuple[tuple[str | None, int | None, str], ...] = ()
    records: dict[str, int] = field(default_factory=dict)
    xfail: dict[str, str] = field(default_factory=dict)


TRUNCATED = "gzip stream ends early"
NO_HEADER = "no header line (the first line is a record)"
EMPTY = "empty file: no header line"

TRUNCATED_LINE = 172  # the line the cut falls in (see test_truncated_gzip_salvage)

BOM = (
    "a UTF-8 byte-order mark before the header (a file saved by a Windows editor) should be "
    "ignored: expected 2 rows kept; actual: FlowLogError line 1 'no header line (the first "
    "line is a record)' and, in lenient mode, both records lost behind one fault"
)
GARBAGE = (
    "bytes after a complete gzip stream (gzip -d: 'trailing garbage ignored'): every line was "
    "read whole, so the fault belongs to the file (line_number null), not to line 4, which "
    "does not exist; actual: FlowLogError line 4 'gzip stream ends early', and lenient counts "
    "2 kept + 1 line set aside for 2 record lines"
)
MISSING_HEADER_COUNT = (
    "a file with no header and 2 record lines: lenient mode keeps 0 and sets aside 1 line "
    "(line_number 1), so kept + set aside = 1, not 2; expected one set-aside line per record "
    "line, or a file-level fault with a null line_number"
)
CORRUPT = (
    "a corrupt gzip stream (compression-method byte zeroed; one byte inverted at offset 300) "
    "should be a FlowLogError naming the file (strict) and a set-aside fault (lenient); actual: "
    "igzip_lib.IsalError ('Gzip/zlib wrapper specifies unsupported compress method', 'Invalid "
    "lookback distance found') escapes from read.read_header / read._inflate in every mode, "
    "because they catch only zlib.error and isal's error is not one"
)
FLOAT = (
    "a Parquet DOUBLE column for bytes holding 1.5: expected FlowLogError at row 2 "
    "'bytes: 1.5 is not an integer'; actual: loads silently with bytes truncated to 1"
)
UINT64 = (
    "a Parquet UINT64 bytes column holding 2**63: expected FlowLogError at row 2 'bytes: "
    "9223372036854775808 is out of range'; actual: loads silently with bytes null"
)
EPOCH = (
    "start = 9223372036854775807 passes the range check [0, 2**63-1] but is read as "
    "milliseconds and * 1000 wraps Int64: expected FlowLogError line 3 'start: ... is out of "
    "range'; actual: kept with start 1969-12-31T23:59:59.999Z"
)
PARQUET_LENIENT = (
    "an unreadable (truncated) Parquet file in lenient mode should be set aside as a "
    "file-level fault (line_number null, 'not a readable Parquet file'); actual: "
    "read_flow_logs(on_bad_lines='skip') and bad_lines() both raise FlowLogError"
)

CASES = [
    # gzip and whole-file faults
    Case(
        "truncated.log.gz",
        error=(TRUNCATED_LINE, TRUNCATED),
        kept=TRUNCATED_LINE - 2,
        aside=((None, TRUNCATED_LINE, TRUNCATED),),
        records={"truncated.log.gz": TRUNCATED_LINE - 1},
    ),
    Case("zero_bytes.log.gz", error=(None, EMPTY), aside=((None, None, EMPTY),)),
    Case("empty_gzip_stream.log.gz", error=(None, EMPTY), aside=((None, None, EMPTY),)),
    Case("header_only.log.gz", rows=0),
    Case(
        "missing_header.log.gz",
        error=(1, NO_HEADER),
        aside=((None, None, NO_HEADER),),
        records={"missing_header.log.gz": 2},
    ),
    Case(
        "garbage_after_gzip_stream.log.gz",
        error=(None, "gzip"),
        kept=2,
        aside=((None, None, "gzip"),),
        records={"garbage_after_gzip_stream.log.gz": 2},
    ),
    Case(
        "corrupt_gzip_header.log.gz",
        error=(None, "gzip"),
        aside=((None, None, "gzip"),),
        records={"corrupt_gzip_header.log.gz": 2},
    ),
    Case(
        "corrupt_gzip_body.log.gz",
        error=(None, "gzip"),
        aside=((None, None, "gzip"),),
        records={"corrupt_gzip_body.log.gz": 400},
    ),
    Case("two_gzip_members.log.gz", rows=2, kept=2),
    Case("plain_text_named_gz.log.gz", rows=2, kept=2),
    Case(
        "utf8_bom_header.log",
        rows=2,
        kept=2,
        records={"utf8_bom_header.log": 2},
    ),
    # line layout
    Case(
        "too_few_fields.log",
        error=(3, "expected 14 fields, found 13"),
        kept=2,
        aside=((None, 3, "expected 14 fields, found 13"),),
    ),
    Case(
        "too_many_fields.log",
        error=(3, "expected 14 fields, found 15"),
        kept=2,
        aside=((None, 3, "expected 14 fields, found 15"),),
    ),
    Case("runs_of_spaces.log", rows=2, kept=2),
    Case(
        "tab_separated_line.log",
        error=(3, "expected 14 fields, found 1"),
        kept=1,
        aside=((None, 3, "expected 14 fields, found 1"),),
    ),
    Case("crlf_endings.log", rows=2, kept=2),
    Case("blank_lines.log", rows=2, kept=2),
    Case("no_final_newline.log", rows=2, kept=2),
    Case(
        "invalid_utf8.log",
        error=(3, "invalid UTF-8 at byte 19"),
        kept=1,
        aside=((None, 3, "invalid UTF-8"),),
    ),
    Case("nul_byte.log", rows=2, kept=2),
    # values
    Case(
        "not_an_integer.log",
        error=(3, "srcport: 'https' is not an integer"),
        kept=1,
        aside=((None, 3, "srcport: 'https' is not an integer"),),
    ),
    Case(
        "int64_overflow.log",
        error=(3, "bytes: 9223372036854775808 is out of range"),
        kept=1,
        aside=((None, 3, "bytes: 9223372036854775808 is out of range"),),
    ),
    Case(
        "int32_overflow_port.log",
        error=(3, "srcport: 2147483648 is out of range"),
        kept=1,
        aside=((None, 3, "srcport: 2147483648 is out of range"),),
    ),
    Case(
        "negative_count.log",
        error=(3, "packets: -10 is out of range"),
        kept=1,
        aside=((None, 3, "packets: -10 is out of range"),),
    ),
    Case(
        "float_count.log",
        error=(3, "bytes: '1200.0' is not an integer"),
        kept=1,
        aside=((None, 3, "bytes: '1200.0' is not an integer"),),
    ),
    Case(
        "unknown_action.log",
        error=(3, "action: 'accept' is not one of ACCEPT, REJECT"),
        kept=1,
        aside=((None, 3, "action: 'accept' is not one of"),),
    ),
    Case(
        "epoch_overflows_datetime.log",
        error=(3, "start: 9223372036854775807 is out of range"),
        kept=1,
        aside=((None, 3, "start: 9223372036854775807 is out of range"),),
    ),
    Case("millisecond_epochs.log", rows=1, kept=1),
    Case("dash_in_every_field.log", rows=2, kept=2),
    Case("ipv6_and_efa.log", rows=3, kept=3),
    # one directory, five files, four formats
    Case(
        "mixed_formats",
        error=(1, NO_HEADER),  # c_missing_header.log.gz: files are read in name order
        kept=5,
        aside=(("c_missing_header.log.gz", None, NO_HEADER), ("d_plain.log", 2, "srcport: 'x'")),
        records={
            "a_default.log.gz": 2,
            "b_v5_reordered.log.gz": 1,
            "c_missing_header.log.gz": 1,
            "d_plain.log": 1,
            "e_aws_types.log.parquet": 2,
        },
    ),
    # Parquet with types other than AWS's
    Case("parquet_aws_types.log.parquet", rows=2, kept=2),
    Case("parquet_aws_names.log.parquet", rows=2, kept=2),
    Case("parquet_int32_counts.log.parquet", rows=2, kept=2),
    Case("parquet_string_ints.log.parquet", rows=2, kept=2),
    Case(
        "parquet_int64_ports.log.parquet",
        error=(2, "srcport: 70000 is out of range [0, 65535]"),
        kept=1,
        aside=((None, 2, "srcport: 70000 is out of range"),),
    ),
    Case(
        "parquet_string_not_int.log.parquet",
        error=(2, "srcport: 'https' is not an integer"),
        kept=1,
        aside=((None, 2, "srcport: 'https' is not an integer"),),
    ),
    Case(
        "parquet_negative_packets.log.parquet",
        error=(2, "packets: -1 is out of range"),
        kept=1,
        aside=((None, 2, "packets: -1 is out of range"),),
    ),
    Case(
        "parquet_float_bytes.log.parquet",
        error=(2, "bytes: 1.5 is not an integer"),
        kept=1,
        aside=((None, 2, "bytes"),),
    ),
    Case(
        "parquet_uint64_bytes.log.parquet",
        error=(2, "bytes: 9223372036854775808 is out of range"),
        kept=1,
        aside=((None, 2, "bytes"),),
    ),
    Case(
        "parquet_truncated.log.parquet",
        error=(None, "not a readable Parquet file"),
        aside=((None, None, "not a readable Parquet file"),),
    ),
]


def _params(check: str) -> list:
    return [
        pytest.param(
            case,
            id=case.name,
            marks=[pytest.mark.xfail(strict=True, reason=case.xfail[check])]
            if check in case.xfail
            else [],
        )
        for case in CASES
    ]


def _records(case: Case) -> dict[str, int]:
    """Record lines per file: the case's own count, else the rows strict mode loads."""
    if case.records:
        return case.records
    n = case.rows if case.error is None else case.kept + len(case.aside)
    return {case.name: n}


def test_every_corpus_file_is_a_case_and_is_in_the_readme():
    names = {c.name for c in CASES}
    on_disk = {
        p.name
        for p in CORPUS.iterdir()
        if p.suffix not in {".py", ".md"} and not p.name.startswith(".")
    }
    assert on_disk == names
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    missing = [n for n in names if f"`{n}`" not in readme]
    assert not missing, f"tests/corpus/README.md lacks {missing}"


@pytest.mark.parametrize("case", _params("strict"))
def test_strict(case: Case):
    path = CORPUS / case.name
    if case.error is None:
        assert ecsflow.read_flow_logs(path).height == case.rows
        return
    line, fragment = case.error
    with pytest.raises(ecsflow.FlowLogError) as err:
        ecsflow.read_flow_logs(path)
    assert Path(err.value.path).is_relative_to(path)
    assert err.value.line == line
    assert fragment in err.value.reason
    where = err.value.path if line is None else f"{err.value.path}, line {line}"
    assert str(err.value) == f"{where}: {err.value.reason}"


@pytest.mark.parametrize("case", _params("lenient"))
def test_lenient(case: Case):
    path = CORPUS / case.name
    kept = ecsflow.read_flow_logs(path, on_bad_lines="skip")
    aside = ecsflow.bad_lines(path)
    assert kept.height == case.kept
    assert aside.columns == ["path", "line_number", "line", "reason"]
    assert aside.height == len(case.aside)
    for row, (name, line, fragment) in zip(aside.iter_rows(named=True), case.aside, strict=True):
        assert Path(row["path"]).name == (name or case.name)
        assert row["line_number"] == line
        assert fragment in row["reason"]
    if case.error is not None and case.aside:
        # the first set-aside line is the one strict mode names
        assert aside.row(0, named=True)["reason"].startswith(case.error[1][:10])


@pytest.mark.parametrize("case", _params("counts"))
def test_counts_add_up(case: Case):
    path = CORPUS / case.name
    kept = ecsflow.read_flow_logs(path, on_bad_lines="skip", include_file_paths="file")
    aside = ecsflow.bad_lines(path)
    kept_by = dict(kept.group_by(pl.col("file").map_elements(lambda p: Path(p).name, pl.String))
                   .len().iter_rows()) if kept.height else {}  # fmt: skip
    for name, records in _records(case).items():
        mine = aside.filter(pl.col("path").str.ends_with("/" + name))
        if mine["line_number"].null_count():
            continue  # a fault of the whole file stands for all of its lines
        assert kept_by.get(name, 0) + mine.height == records, name


# --- values of the files that load: the same two records, whatever the layout -------------

GOOD_ROWS = ["runs_of_spaces.log", "crlf_endings.log", "blank_lines.log", "no_final_newline.log"]
GOOD_ROWS += ["two_gzip_members.log.gz", "plain_text_named_gz.log.gz"]
PARQUET_ROWS = [
    "parquet_aws_types.log.parquet",
    "parquet_aws_names.log.parquet",
    "parquet_int32_counts.log.parquet",
    "parquet_string_ints.log.parquet",
]


@pytest.fixture(scope="module")
def baseline() -> pl.DataFrame:
    lines = (CORPUS / "too_few_fields.log").read_text().splitlines()
    good = [lines[0], lines[1], lines[3]]  # header and the two good records
    return ecsflow.clean_flow_logs(
        pl.DataFrame([dict(zip(good[0].split(), r.split(), strict=True)) for r in good[1:]])
        .rename(lambda c: c.replace("-", "_"))
    )  # fmt: skip


@pytest.mark.parametrize("name", GOOD_ROWS + PARQUET_ROWS)
def test_tolerated_layouts_read_the_same_records(name: str, baseline: pl.DataFrame):
    assert_frame_equal(ecsflow.read_flow_logs(CORPUS / name), baseline)


def test_millisecond_epochs_read_as_seconds(baseline: pl.DataFrame):
    flows = ecsflow.read_flow_logs(CORPUS / "millisecond_epochs.log")
    assert_frame_equal(flows.select("start", "end"), baseline.head(1).select("start", "end"))


def test_dash_in_every_field_is_a_row_of_nulls():
    flows = ecsflow.read_flow_logs(CORPUS / "dash_in_every_field.log")
    fields = [c for c in flows.columns if c in ecsflow.fields.FIELD_BY_COLUMN]
    assert flows.select(fields).row(1) == (None,) * len(fields)


def test_ipv6_and_efa_records():
    flows = ecsflow.read_flow_logs(CORPUS / "ipv6_and_efa.log")
    expected = pl.DataFrame(
        {
            "type": ["IPv6", "IPv6", "EFA"],
            "srcaddr": ["2001:db8::1", "fe80::1ff:fe23:4567:890a", None],
            "pkt_dstaddr": ["2001:db8::2", None, None],
            "protocol_name": ["TCP", "IPv6-ICMP", None],
            "traffic_path": [1, None, None],
            "bytes": [5000, 72, 9000],
        },
        schema={
            "type": pl.Enum(["IPv4", "IPv6", "EFA"]),
            "srcaddr": pl.String,
            "pkt_dstaddr": pl.String,
            "protocol_name": pl.Categorical(),
            "traffic_path": pl.Int32,
            "bytes": pl.Int64,
        },
    )
    assert_frame_equal(flows.select(expected.columns), expected, categorical_as_str=True)


def test_nul_byte_is_kept_verbatim():
    # Not a documented fault: AWS never writes one, and the value round-trips unchanged.
    flows = ecsflow.read_flow_logs(CORPUS / "nul_byte.log")
    assert flows["interface_id"].cast(pl.String).to_list() == ["eni-0a1", "eni-0b\x002"]


def test_mixed_formats_union_by_name():
    flows = ecsflow.read_flow_logs(CORPUS / "mixed_formats", on_bad_lines="skip")
    assert flows.height == 5
    # the v5 file's extra fields are null for the others; its reordered fields land by name
    assert flows["flow_direction"].drop_nulls().to_list() == ["egress"]
    assert sorted(flows["bytes"].to_list()) == [840, 840, 1200, 1200, 5000]


def test_truncated_gzip_salvage():
    """The corpus's truncated file breaks inside line 172: lines 2-171 are kept whole."""
    data = (CORPUS / "truncated.log.gz").read_bytes()
    text = zlib.decompressobj(31).decompress(data).decode()
    assert text.count("\n") == TRUNCATED_LINE - 1  # line 172 is cut off
    with pytest.raises(EOFError):
        gzip.decompress(data)


# --- a large gzip file in lenient mode: peak memory of a child process ---------------------

LARGE_HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status\n"
)
LARGE_UNCOMPRESSED = 300 << 20  # bytes of text; README.md has the multi-GB figures
LARGE_BAD_EVERY = 100_000  # one bad line per this many lines
RSS_BOUND_MIB = 600  # the interpreter with polars and ecsflow imported is about 200 MiB

CHILD = """
import resource, sys
import polars as pl
import ecsflow
lf = ecsflow.scan_flow_logs(sys.argv[1], on_bad_lines="skip")
out = lf.select(pl.len(), pl.col("bytes").sum()).collect(engine="streaming")
# VmHWM is this program's own peak: ru_maxrss would also count the parent's pages held
# between fork and exec, which are the whole test session's.
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]
print(out.row(0)[0], out.row(0)[1], hwm)
"""


def _write_large_gzip(path: Path, target: int) -> tuple[int, int, int]:
    """Stream a gzip text file of about ``target`` uncompressed bytes; (lines, bad, bytes sum)."""
    import random

    rnd = random.Random(0)
    rows = [
        (rnd.randrange(16**8), rnd.randrange(256), rnd.randrange(65536), rnd.randrange(40, 10**6))
        for _ in range(LARGE_BAD_EVERY - 1)
    ]
    block = "".join(
        f"2 123456789012 eni-{e:08x} 10.0.0.{h} 10.1.0.{h} {p} 443 6 3 {b} 1700000000 "
        "1700000060 ACCEPT OK\n"
        for e, h, p, b in rows
    )
    block += "2 123456789012 eni-bad 10.0.0.1 10.0.0.2 http 443 6 1 40 1700000000 1700000060 "
    block += "ACCEPT OK\n"
    data = block.encode()
    written = blocks = 0
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(LARGE_HEADER.encode())
        while written < target:
            f.write(data)
            written += len(data)
            blocks += 1
    return blocks * LARGE_BAD_EVERY, blocks, blocks * sum(r[3] for r in rows)


@pytest.mark.slow
def test_large_gzip_loads_in_lenient_mode_with_bounded_memory(tmp_path: Path):
    import subprocess
    import sys

    path = tmp_path / "large.log.gz"
    lines, bad, total = _write_large_gzip(path, LARGE_UNCOMPRESSED)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True
    )
    *counts, hwm_kib = proc.stdout.split()
    assert counts == [str(lines - bad), str(total)]  # the bad lines are set aside
    peak_mib = int(hwm_kib) / 1024
    assert peak_mib < RSS_BOUND_MIB, f"peak RSS {peak_mib:.0f} MiB"
