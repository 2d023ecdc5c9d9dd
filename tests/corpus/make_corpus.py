"""Write the broken-input corpus in this folder (run from the repository root).

    .venv/bin/python tests/corpus/make_corpus.py

Every file is small and deterministic (gzip mtime 0), so the output is byte-identical on each
run. ``tests/test_corpus.py`` holds what each case must do; ``README.md`` says it in a table.
"""

from __future__ import annotations

import gzip
from pathlib import Path

HERE = Path(__file__).resolve().parent

V2 = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status"
)
GOOD = "2 123456789012 eni-0a1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1700000000 1700000060 ACCEPT OK"
GOOD2 = GOOD.replace("eni-0a1", "eni-0b2").replace(" 840 ", " 1200 ")
V5 = (
    "version interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr "
    "pkt-dstaddr protocol bytes packets start end action tcp-flags log-status flow-direction "
    "traffic-path"
)


def _text(lines: list[str], *, eol: str = "\n") -> bytes:
    return (eol.join(lines) + eol).encode()


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _flip(data: bytes, pos: int, value: int | None) -> bytes:
    """Set one byte (``None``: invert it)."""
    out = bytearray(data)
    out[pos] = out[pos] ^ 0xFF if value is None else value
    return bytes(out)


def text_cases() -> dict[str, bytes]:
    long = [V2] + [GOOD.replace("eni-0a1", f"eni-{i:05x}") for i in range(400)]
    whole = _gz(_text(long))
    v5_rows = [
        V5,
        "5 eni-0c3 123456789012 IPv6 2001:db8::1 2001:db8::2 443 50000 2001:db8::1 2001:db8::2"
        " 6 5000 12 1700000000 1700000060 ACCEPT 3 OK egress 1",
        "5 eni-0c3 123456789012 IPv6 fe80::1ff:fe23:4567:890a ff02::1 0 0 - - 58 72 1"
        " 1700000000 1700000060 ACCEPT 0 OK ingress -",
        "5 eni-0c4 123456789012 EFA - - - - - - - 9000 30 1700000000 1700000060 ACCEPT - OK"
        " egress -",
    ]
    return {
        # gzip and file-level faults
        "truncated.log.gz": whole[: len(whole) // 2],
        "zero_bytes.log.gz": b"",
        "empty_gzip_stream.log.gz": _gz(b""),
        "header_only.log.gz": _gz(_text([V2])),
        "missing_header.log.gz": _gz(_text([GOOD, GOOD2])),
        "garbage_after_gzip_stream.log.gz": _gz(_text([V2, GOOD, GOOD2])) + b"\x00junk",
        "corrupt_gzip_header.log.gz": _flip(_gz(_text([V2, GOOD, GOOD2])), 2, 0x00),
        "corrupt_gzip_body.log.gz": _flip(whole, 300, None),
        "two_gzip_members.log.gz": _gz(_text([V2, GOOD])) + _gz(_text([GOOD2])),
        "plain_text_named_gz.log.gz": _text([V2, GOOD, GOOD2]),
        "utf8_bom_header.log": b"\xef\xbb\xbf" + _text([V2, GOOD, GOOD2]),
        # line-level layout faults
        "too_few_fields.log": _text([V2, GOOD, GOOD.rsplit(" ", 1)[0], GOOD2]),
        "too_many_fields.log": _text([V2, GOOD, GOOD + " extra", GOOD2]),
        "runs_of_spaces.log": _text([V2, GOOD.replace(" ", "  "), "  " + GOOD2 + "   "]),
        "tab_separated_line.log": _text([V2, GOOD, GOOD2.replace(" ", "\t")]),
        "crlf_endings.log": _text([V2, GOOD, GOOD2], eol="\r\n"),
        "blank_lines.log": _text([V2, "", GOOD, "   ", GOOD2, ""]),
        "no_final_newline.log": _text([V2, GOOD, GOOD2])[:-1],
        "invalid_utf8.log": _text([V2, GOOD])
        + GOOD2.encode().replace(b"eni-0b2", b"eni-\xff\xfe")
        + b"\n",
        "nul_byte.log": _text([V2, GOOD, GOOD2.replace("eni-0b2", "eni-0b\x002")]),
        # values
        "not_an_integer.log": _text([V2, GOOD, GOOD2.replace(" 443 ", " https ")]),
        "int64_overflow.log": _text([V2, GOOD, GOOD2.replace(" 1200 ", " 9223372036854775808 ")]),
        "int32_overflow_port.log": _text([V2, GOOD, GOOD2.replace(" 443 ", " 2147483648 ")]),
        "negative_count.log": _text([V2, GOOD, GOOD2.replace(" 10 1200 ", " -10 1200 ")]),
        "float_count.log": _text([V2, GOOD, GOOD2.replace(" 1200 ", " 1200.0 ")]),
        "millisecond_epochs.log": _text(
            [V2, GOOD.replace("1700000000 1700000060", "1700000000000 1700000060000")]
        ),
        "unknown_action.log": _text([V2, GOOD, GOOD2.replace("ACCEPT", "accept")]),
        "epoch_overflows_datetime.log": _text(
            [V2, GOOD, GOOD2.replace("1700000000 ", "9223372036854775807 ")]
        ),
        "dash_in_every_field.log": _text([V2, GOOD, " ".join(["-"] * 14)]),
        "ipv6_and_efa.log": _text(v5_rows),
    }


def parquet_cases() -> dict[str, object]:
    import polars as pl

    base = {
        "version": [2, 2],
        "account_id": ["123456789012", "123456789012"],
        "interface_id": ["eni-0a1", "eni-0b2"],
        "srcaddr": ["10.0.0.1", "10.0.0.1"],
        "dstaddr": ["10.0.0.2", "10.0.0.2"],
        "srcport": [443, 443],
        "dstport": [49152, 49152],
        "protocol": [6, 6],
        "packets": [10, 10],
        "bytes": [840, 1200],
        "start": [1700000000, 1700000000],
        "end": [1700000060, 1700000060],
        "action": ["ACCEPT", "ACCEPT"],
        "log_status": ["OK", "OK"],
    }
    aws = {  # AWS's documented Parquet types
        "version": pl.Int32, "srcport": pl.Int32, "dstport": pl.Int32, "protocol": pl.Int32,
        "packets": pl.Int64, "bytes": pl.Int64, "start": pl.Int64, "end": pl.Int64,
    }  # fmt: skip

    def frame(**types):
        schema = {c: aws.get(c, pl.String) for c in base} | types
        data = {
            c: [None if v is None else (str(v) if schema[c] == pl.String else v) for v in vs]
            for c, vs in base.items()
        }
        return pl.DataFrame(data, schema=schema)

    strings = frame(srcport=pl.String)
    strings = strings.with_columns(pl.Series("srcport", ["443", "https"]))
    return {
        "parquet_aws_types.log.parquet": frame(),
        "parquet_int32_counts.log.parquet": frame(
            packets=pl.Int32, bytes=pl.Int32, start=pl.Int32, end=pl.Int32
        ),
        "parquet_int64_ports.log.parquet": frame(srcport=pl.Int64).with_columns(
            pl.Series("srcport", [443, 70000], dtype=pl.Int64)
        ),
        "parquet_uint64_bytes.log.parquet": frame(bytes=pl.UInt64).with_columns(
            pl.Series("bytes", [840, 2**63], dtype=pl.UInt64)
        ),
        "parquet_string_ints.log.parquet": frame(**dict.fromkeys(aws, pl.String)),
        "parquet_string_not_int.log.parquet": strings,
        "parquet_float_bytes.log.parquet": frame(bytes=pl.Float64).with_columns(
            pl.Series("bytes", [840.0, 1.5])
        ),
        "parquet_negative_packets.log.parquet": frame().with_columns(
            pl.Series("packets", [10, -1], dtype=pl.Int64)
        ),
        "parquet_aws_names.log.parquet": frame().rename(lambda c: c.replace("_", "-")),
        "parquet_truncated.log.parquet": None,  # written below from parquet_aws_types
    }


def mixed_dir() -> dict[str, bytes]:
    v5 = [
        V5,
        "5 eni-0c3 123456789012 IPv4 10.0.0.3 10.0.0.4 443 50000 10.0.0.3 10.0.0.4 6 5000 12"
        " 1700000000 1700000060 ACCEPT 3 OK egress 1",
    ]
    return {
        "mixed_formats/a_default.log.gz": _gz(_text([V2, GOOD, GOOD2])),
        "mixed_formats/b_v5_reordered.log.gz": _gz(_text(v5)),
        "mixed_formats/c_missing_header.log.gz": _gz(_text([GOOD])),
        "mixed_formats/d_plain.log": _text([V2, GOOD.replace(" 443 ", " x ")]),
    }


def main() -> None:
    for name, data in {**text_cases(), **mixed_dir()}.items():
        path = HERE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    pq = parquet_cases()
    for name, df in pq.items():
        if df is not None:
            df.write_parquet(HERE / name, statistics=False)
    whole = (HERE / "parquet_aws_types.log.parquet").read_bytes()
    (HERE / "parquet_truncated.log.parquet").write_bytes(whole[: len(whole) // 2])
    (HERE / "mixed_formats" / "e_aws_types.log.parquet").write_bytes(whole)


if __name__ == "__main__":
    main()
