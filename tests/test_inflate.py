"""Streaming gzip: members, breaks and trailing bytes; the prefetch thread."""

from __future__ import annotations

import gzip

import pytest

from ecsflow.inflate import BROKEN, TRAILING, inflate, prefetch


def _chunks(data: bytes, size: int = 7):
    return iter([data[i : i + size] for i in range(0, len(data), size)])


def test_inflate_members_plain_text_breaks_and_trailing_bytes():
    text = b"a b c\n" * 1000
    one = gzip.compress(text)
    assert b"".join(inflate(_chunks(one))) == text
    assert b"".join(inflate(_chunks(one + gzip.compress(b"x\n")))) == text + b"x\n"
    assert b"".join(inflate(_chunks(b"plain text\n"))) == b"plain text\n"
    cut = list(inflate(_chunks(one[: len(one) // 2])))
    assert cut[-1] is BROKEN and all(isinstance(c, bytes) for c in cut[:-1])
    corrupt = one[:20] + bytes(len(one) - 28) + one[-8:]
    assert list(inflate(_chunks(corrupt)))[-1] is BROKEN
    tail = list(inflate(_chunks(one + b"garbage")))
    assert tail[-1] is TRAILING and b"".join(tail[:-1]) == text


def test_prefetch_keeps_order_passes_errors_and_stops_with_its_consumer():
    import threading

    stop = threading.Event()
    assert list(prefetch(iter(range(50)), stop)) == list(range(50))

    def broken():
        yield 1
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item in prefetch(broken(), stop):
            got.append(item)
    assert got == [1]

    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    before = threading.active_count()
    it = prefetch(endless(), stop)
    assert next(it) == 0
    it.close()  # the consumer goes away: the producer must stop, not fill memory
    for _ in range(50):
        if threading.active_count() <= before:
            break
        threading.Event().wait(0.05)
    assert threading.active_count() <= before
    assert len(produced) < 10
