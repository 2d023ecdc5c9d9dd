"""Text blocks: the fast path proven regular, pieces retried, the careful path naming faults."""

from __future__ import annotations

import pytest

from ecsflow.blocks import TextFormat, fast_block, make_block, parse_block
from ecsflow.fields import DEFAULT_FORMAT, column_name, parse_log_format

HEADER = " ".join(parse_log_format(DEFAULT_FORMAT))
GOOD = "2 123456789012 eni-0a1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1700000000 1700000060 ACCEPT OK"


def test_one_bad_line_sends_only_its_piece_down_the_careful_path():
    from ecsflow.blocks import CAREFUL_BYTES

    columns = tuple(column_name(n) for n in HEADER.split())
    fmt = TextFormat(columns, True, False)
    n = 6 * CAREFUL_BYTES // len(GOOD)
    lines = [GOOD] * n
    lines[n // 2] = GOOD.replace(" 443 ", " 4x3 ")
    block = make_block("\n".join(lines).encode(), 2, fmt)
    assert block.regular  # by shape; a value fails the parse
    out = parse_block(block, fmt, set(columns))
    assert out.height == n and out["__line"].to_list() == list(range(2, n + 2))
    assert out["__reason"].drop_nulls().to_list() == ["srcport: '4x3' is not an integer"]
    careful = out["__raw"].drop_nulls().len()
    assert 0 < careful <= 2 * CAREFUL_BYTES // len(GOOD) + 1


@pytest.mark.parametrize(
    ("block", "regular"),
    [
        (b"1 ACCEPT x\n2 - -", True),
        (b"1 ACCEPT x -\n2 REJECT", False),  # one long, one short: the column past the format
        (b"1 ACCEPT x\n2 REJECT x y z", False),  # two too many: polars refuses the line
        (b"1 ACCEPT x\n70000 REJECT y", False),  # out of range
        (b"1 ACCEPT x\n2 DENY y", False),  # not an action
    ],
)
def test_fast_block_takes_only_regular_blocks_whatever_the_projection(block, regular):
    columns = ["srcport", "action", "srcaddr"]
    for want in (set(columns), {"action"}):
        frame = fast_block(block, 1, columns, want)
        if regular:
            assert frame is not None and frame.height == 2
            assert set(frame.columns) == want | {"__line", "__raw", "__reason"}
        elif want == {"action"} and b"70000" in block:
            # An unread field is not checked: only what is parsed is validated.
            assert frame is not None
        else:
            assert frame is None


def test_careful_path_names_each_fault_and_keeps_line_numbers():
    fmt = TextFormat(("srcport", "action"), has_header=False, cw_export=False)
    text = b"443 ACCEPT\n\n80 DENY\n1 2 3\n8080 REJECT"
    out = parse_block(make_block(text, 5, fmt), fmt, {"srcport", "action"})
    assert out["__line"].to_list() == [5, 7, 8, 9]  # the blank line 6 is not a record
    assert out["__reason"].to_list() == [
        None,
        "action: 'DENY' is not one of ACCEPT, REJECT",
        "expected 2 fields, found 3",
        None,
    ]


def test_a_line_longer_than_a_piece_is_one_bad_line_not_a_crash():
    from ecsflow.blocks import CAREFUL_BYTES

    fmt = TextFormat(tuple(column_name(n) for n in HEADER.split()), True, False)
    n = CAREFUL_BYTES // len(GOOD) + 10
    text = "\n".join([GOOD] * n + ["x" * (3 * CAREFUL_BYTES)] + [GOOD] * 3).encode()
    out = parse_block(make_block(text, 2, fmt), fmt, set(fmt.columns))
    assert out.height == n + 4
    bad = out.filter(out["__reason"].is_not_null())
    assert bad["__line"].to_list() == [n + 2]
    assert bad["__reason"].to_list() == ["expected 14 fields, found 1"]


def test_a_byte_order_mark_at_a_block_start_is_not_dropped():
    fmt = TextFormat(tuple(column_name(n) for n in HEADER.split()), True, False)
    text = ("\ufeff" + GOOD + "\n" + GOOD).encode()
    out = parse_block(make_block(text, 2, fmt), fmt, set(fmt.columns))
    assert out["__reason"].to_list() == ["version: '\ufeff2' is not an integer", None]
