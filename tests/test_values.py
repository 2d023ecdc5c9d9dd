"""Text values to storage dtypes, and the regularity check behind the reader's fast path."""

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ecsflow.fields import FIELD_BY_COLUMN, FIELDS
from ecsflow.values import from_text, in_range, regular_lines, storage_dtype, storage_schema


def test_storage_dtypes_follow_the_registry():
    for f in FIELDS:
        dtype = storage_dtype(f)
        if f.is_integer or f.is_time:
            assert dtype == pl.Int64
        else:
            assert dtype == f.dtype
    assert storage_schema(["srcport", "custom_field"]) == {
        "srcport": pl.Int64,
        "custom_field": pl.String,
    }


def test_from_text_types_values_and_names_bad_ones():
    raw = pl.DataFrame(
        {
            "dstport": ["443", "-", "", "x8", "99999999999999999999"],
            "action": ["ACCEPT", "-", "REJECT", "ALLOW", "ACCEPT"],
        }
    )
    exprs, reasons = [], []
    for col in raw.columns:
        value, reason = from_text(FIELD_BY_COLUMN[col], pl.col(col))
        exprs.append(value.alias(col))
        reasons.append(reason)
    out = raw.select(*exprs, pl.coalesce(reasons).alias("reason"))
    expected = pl.DataFrame(
        {
            "dstport": [443, None, None, None, None],
            "action": ["ACCEPT", None, "REJECT", None, "ACCEPT"],
            "reason": [
                None,
                None,
                None,
                "dstport: 'x8' is not an integer",
                "dstport: 99999999999999999999 is out of range",
            ],
        },
        schema={
            "dstport": pl.Int64,
            "action": FIELD_BY_COLUMN["action"].dtype,
            "reason": pl.String,
        },
    )
    assert_frame_equal(out, expected)
    # The enum's reason, where the integer is fine.
    value, reason = from_text(FIELD_BY_COLUMN["action"], pl.col("action"))
    assert raw.select(reason)[3, 0] == "action: 'ALLOW' is not one of ACCEPT, REJECT"


@pytest.mark.parametrize(
    ("block", "fields", "lines"),
    [
        (b"a b c", 3, 1),
        (b"a b c\nd e f", 3, 2),
        (b"a", 1, 1),
        (b"a\nb", 1, 2),
        (b"a b c\nd e", 3, None),  # short line
        (b"a  b c", 3, None),  # doubled separator
        (b" a b c", 3, None),  # leading space
        (b"a b c ", 3, None),  # trailing space
        (b"a b c\n\nd e f", 3, None),  # blank line
        (b"a b c\r\nd e f", 3, None),  # CR
        (b"a\tb c", 3, None),  # tab
        (b"a b c\n", 3, None),  # final newline: the caller strips it
        (b"", 3, None),
        (b"a b\nc d e f", 3, 2),  # one short, one long: the total fits; the reader checks
    ],
)
def test_regular_lines(block, fields, lines):
    assert regular_lines(block, fields) == lines


def test_in_range_uses_the_registry_bounds():
    assert in_range(pl.DataFrame({"srcport": [0, 65535], "custom": [-5, 10**12]}))
    assert not in_range(pl.DataFrame({"srcport": [0, 65536]}))
    assert not in_range(pl.DataFrame({"version": [1]}))
    assert in_range(pl.DataFrame({"srcport": [None]}, schema={"srcport": pl.Int64}))
    assert in_range(pl.DataFrame(schema={"srcport": pl.Int64}))


def test_regular_lines_sees_a_pair_across_its_internal_steps():
    from ecsflow.values import _STEP

    line = b"a" * 99 + b" " + b"b" * 99  # 199 bytes, 2 fields
    block = b"\n".join([line] * (2 * _STEP // 200 + 2))
    assert regular_lines(block, 2) == block.count(b"\n") + 1
    for at in (_STEP - 1, _STEP, _STEP + 1):
        # Put a separator next to the one nearest the step boundary.
        near = block.rfind(b" ", 0, at + 1)
        broken = block[: near + 1] + b" " + block[near + 2 :]
        assert regular_lines(broken, 2) is None
