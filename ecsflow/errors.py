"""ecsflow's one error type for bad flow-log input."""

from __future__ import annotations

__all__ = ["FlowLogError"]


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

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = self.path if line is None else f"{self.path}, line {line}"
        super().__init__(f"{where}: {reason}")

    def __reduce__(self):
        return (type(self), (self.path, self.line, self.reason))
