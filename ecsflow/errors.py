"""ecsflow's one error type for bad flow-log input."""

from __future__ import annotations

import threading
from collections import OrderedDict

__all__ = ["FlowLogError"]

_UNSET = object()
# The latest errors by message: polars re-creates an error raised inside a query from its
# message alone (adding the failing expression), and this finds its fields again.
_RAISED: OrderedDict[str, tuple[str, int | None, str]] = OrderedDict()
_LOCK = threading.Lock()
_POLARS_CONTEXT = "\n\nThis error occurred"


class FlowLogError(ValueError):
    """Bad flow-log input: the message names the file and, for a line-level fault, the line.

    Line numbers count every physical line of the file from 1, so a header line is line 1.

    Attributes
    ----------
    path
        The file or object (``s3://`` URL) that holds the fault.
    line
        1-based line number, or ``None`` for a fault of the whole file.
    reason
        What is wrong, without the location.

    Examples
    --------
    >>> err = FlowLogError("flows.log", 3, "expected 14 fields, found 13")
    >>> str(err)
    'flows.log, line 3: expected 14 fields, found 13'
    """

    def __init__(self, path: str, line: int | None = _UNSET, reason: str = _UNSET) -> None:  # type: ignore[assignment]
        if line is _UNSET and reason is _UNSET:
            message = str(path).split(_POLARS_CONTEXT)[0]
            with _LOCK:
                found = _RAISED.get(message)
            path, line, reason = found or ("<query>", None, message)
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = self.path if line is None else f"{self.path}, line {line}"
        message = f"{where}: {reason}"
        with _LOCK:
            _RAISED[message] = (self.path, line, reason)
            while len(_RAISED) > 64:
                _RAISED.popitem(last=False)
        super().__init__(message)

    def __reduce__(self):
        return (type(self), (self.path, self.line, self.reason))
