"""Bad input at the file and line level: strict errors name the file and line; lenient modes
set lines aside with a reason, and the counts always add up."""

from __future__ import annotations

import gzip
import warnings
import zlib

import polars as pl
import pytest

import ecsflow
from ecsflow.fields import DEFAULT_FORMAT, parse_log_format

HEADER = " ".join(parse_log_format(DEFAULT_FORMAT))
GOOD = "2 123456789012 eni-0a1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1700000000 1700000060 ACCEPT OK"


def _counts(path, **kw):
    kept = ecsflow.read_flow_logs(path, on_bad_lines="skip", **kw)
    aside = ecsflow.bad_lines(path, **kw)
    return kept, aside


# (name, bad record line, reason fragment)
LINE_FAULTS = [
    ("too_few_fields", GOOD.rsplit(" ", 1)[0], "expected 14 fields, found 13"),
    ("too_many_fields", GOOD + " extra", "expected 14 fields, found 15"),
    ("not_an_integer", GOOD.replace(" 443 ", " http "), "srcport: 'http' is not an integer"),
    (
        "int64_overflow",
        GOOD.replace(" 840 ", " 99999999999999999999 "),
        "bytes: 99999999999999999999 is out of range",
    ),
    (
        "int32_overflow",
        GOOD.replace(" 443 ", " 4294967296 "),
        "srcport: 4294967296 is out of range",
    ),
    ("port_range", GOOD.replace(" 443 ", " 70000 "), "srcport: 70000 is out of range [0, 65535]"),
    ("negative_count", GOOD.replace(" 10 840 ", " -10 840 "), "packets: -10 is out of range"),
    (
        "unknown_action",
        GOOD.replace("ACCEPT", "ALLOW"),
        "action: 'ALLOW' is not one of ACCEPT, REJECT",
    ),
]


@pytest.mark.parametrize(("case", "bad", "reason"), LINE_FAULTS, ids=[c[0] for c in LINE_FAULTS])
def test_line_faults_strict_and_lenient(case, bad, reason, write_log):
    path = write_log(f"{case}.log.gz", [HEADER, GOOD, bad, GOOD])
    with pytest.raises(ecsflow.FlowLogError) as err:
        ecsflow.read_flow_logs(path)
    assert err.value.path == str(path) and err.value.line == 3
    assert str(err.value) == f"{path}, line 3: {err.value.reason}"
    assert reason in err.value.reason

    kept, aside = _counts(path)
    assert kept.height == 2 and aside.height == 1
    assert aside.row(0, named=True) == {
        "path": str(path),
        "line_number": 3,
        "line": bad,
        "reason": err.value.reason,
    }
    with pytest.warns(ecsflow.BadLinesWarning, match=r"set aside 1 bad line\(s\) and kept 2"):
        assert ecsflow.read_flow_logs(path, on_bad_lines="warn").height == 2


def test_lazy_strict_scan_raises_on_collect(write_log):
    path = write_log("lazy.log", [HEADER, GOOD, GOOD.replace(" 6 ", " tcp ")], gz=False)
    lf = ecsflow.scan_flow_logs(path)  # building the plan reads only the header
    with pytest.raises(ecsflow.FlowLogError, match=r"lazy\.log, line 3: protocol: 'tcp'"):
        lf.collect()
    with pytest.warns(ecsflow.BadLinesWarning, match="lazy.log, line 3"):
        assert ecsflow.scan_flow_logs(path, on_bad_lines="warn").collect().height == 1


def test_truncated_gzip(write_log, tmp_path):
    lines = [HEADER] + [GOOD.replace("eni-0a1", f"eni-{i:05x}") for i in range(3000)]
    whole = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    path = write_log("cut.log.gz", whole[: len(whole) // 2])
    d = zlib.decompressobj(31)
    salvaged = d.decompress(whole[: len(whole) // 2]).decode().split("\n")
    whole_lines = len(salvaged) - 1  # the last piece is cut off
    with pytest.raises(ecsflow.FlowLogError, match="gzip stream ends early") as err:
        ecsflow.read_flow_logs(path)
    assert err.value.path == str(path) and err.value.line == whole_lines + 1
    kept, aside = _counts(path)
    # The lines before the break are kept; the cut-off line is set aside as the fault.
    assert kept.height == whole_lines - 1  # minus the header
    ((line_number, cut_line),) = aside.select("line_number", "line").rows()
    assert line_number == whole_lines + 1
    # Decoders may hold back a few bytes of a broken stream: the kept text is a prefix.
    assert cut_line is None or salvaged[-1].startswith(cut_line)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file: no header line"),
        (gzip.compress(b"", mtime=0), "empty file: no header line"),
    ],
    ids=["zero_bytes", "empty_gzip_stream"],
)
def test_empty_files(content, reason, write_log):
    path = write_log("empty.log.gz", content)
    with pytest.raises(ecsflow.FlowLogError, match=reason) as err:
        ecsflow.read_flow_logs(path)
    assert err.value.path == str(path) and err.value.line is None
    kept, aside = _counts(path)
    assert kept.height == 0
    assert aside.select("line_number", "reason").rows() == [(None, reason)]


def test_missing_header(write_log):
    path = write_log("nohead.log.gz", [GOOD, GOOD])
    with pytest.raises(ecsflow.FlowLogError, match=r"nohead\.log\.gz, line 1: no header line"):
        ecsflow.read_flow_logs(path)
    kept, aside = _counts(path)
    assert kept.height == 0 and aside["reason"].str.contains("no header line").all()
    # A declared format makes the same file readable.
    assert ecsflow.read_flow_logs(path, log_format=DEFAULT_FORMAT).height == 2


def test_header_only_file_has_no_records(write_log):
    path = write_log("head.log.gz", [HEADER])
    flows = ecsflow.read_flow_logs(path)
    assert flows.height == 0
    assert flows["srcport"].dtype == pl.Int32


def test_invalid_utf8_is_a_line_fault(write_log):
    bad = GOOD.encode().replace(b"eni-0a1", b"eni-\xff\xfe")
    path = write_log("enc.log", b"\n".join([HEADER.encode(), GOOD.encode(), bad, b""]))
    with pytest.raises(ecsflow.FlowLogError, match=r"line 3: invalid UTF-8"):
        ecsflow.read_flow_logs(path)
    kept, aside = _counts(path)
    assert kept.height == 1 and aside["line_number"].to_list() == [3]


def test_counts_add_up_across_files(write_log, tmp_path):
    write_log("d/a.log.gz", [HEADER, GOOD, GOOD + " x", GOOD])
    write_log("d/b.log.gz", [HEADER, GOOD.replace("OK", "MAYBE"), GOOD])
    write_log("d/c.log.gz", [GOOD])
    kept, aside = _counts(tmp_path / "d")
    record_lines = 3 + 2 + 1
    # c has no header: one file-level fault that stands for its line
    assert kept.height == 3
    assert aside.height == 3
    assert kept.height + aside.height == record_lines
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ecsflow.read_flow_logs(tmp_path / "d", on_bad_lines="skip").height == 3


def test_strict_error_is_not_chained_to_internal_errors(write_log):
    path = write_log("chain.log", [HEADER, GOOD.replace(" 6 ", " x ")], gz=False)
    with pytest.raises(ecsflow.FlowLogError) as err:
        ecsflow.read_flow_logs(path)
    assert err.value.__context__ is None and err.value.__cause__ is None


@pytest.mark.parametrize("columns", [None, ["srcport"], ["interface_id", "log_status"]])
def test_short_and_long_line_in_one_block_are_both_faults(columns, write_log):
    # The block's separator count is right (one line short, one long): only the parse of one
    # column beyond the format can tell, with or without a projection.
    short = GOOD.rsplit(" ", 1)[0]
    long = GOOD + " extra"
    path = write_log("pair.log", [HEADER, GOOD, short, long, GOOD])
    with pytest.raises(ecsflow.FlowLogError) as err:
        ecsflow.read_flow_logs(path, columns=columns)
    assert err.value.line == 3 and "expected 14 fields, found 13" in err.value.reason
    kept = ecsflow.read_flow_logs(path, columns=columns, on_bad_lines="skip")
    aside = ecsflow.bad_lines(path, columns=columns)
    assert kept.height == 2
    assert aside["line_number"].to_list() == [3, 4]
    assert aside["line"].to_list() == [short, long]


def test_columns_parse_and_validate_only_the_fields_asked_for(write_log):
    bad_port = GOOD.replace(" 443 ", " http ")
    path = write_log("proj.log", [HEADER, GOOD, bad_port])
    with pytest.raises(ecsflow.FlowLogError, match="srcport: 'http' is not an integer"):
        ecsflow.read_flow_logs(path)
    # srcport is neither read nor checked when it is not asked for; the line shape still is.
    got = ecsflow.read_flow_logs(path, columns=["interface_id", "bytes"])
    assert got.columns == ["interface_id", "bytes"] and got.height == 2
    short = GOOD.rsplit(" ", 1)[0]
    path2 = write_log("proj_short.log", [HEADER, GOOD, short])
    with pytest.raises(ecsflow.FlowLogError, match="expected 14 fields, found 13"):
        ecsflow.read_flow_logs(path2, columns=["interface_id", "bytes"])


def test_include_file_paths_is_text_and_bookkeeping_paths_are_categorical(write_log):
    from ecsflow.read import FILE, scan_files
    from ecsflow.sources import expand_source

    path = write_log("paths.log", [HEADER, GOOD, GOOD])
    got = ecsflow.read_flow_logs(path, include_file_paths="path")
    assert got.schema["path"] == pl.String and got["path"].to_list() == [str(path)] * 2
    raw = scan_files(expand_source(str(path)))[0]
    assert raw.collect_schema()[FILE] == pl.Categorical()
