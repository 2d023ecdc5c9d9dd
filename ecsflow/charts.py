"""Altair chart builders over pre-aggregated polars frames, and the notebook renderer switch.

Every builder takes a frame that is already aggregated (a ``group_by`` result, at most
:data:`MAX_ROWS` rows) and returns an ``alt.Chart``. Aggregation belongs in polars, where it is
fast and testable; the chart only draws. Builders embed only the columns they encode, cast
categorical and enum columns to strings, and pick each encoding's type from the column's dtype
(numbers are quantitative, datetimes temporal, everything else nominal) unless the column is
given in altair shorthand such as ``"hour:O"``.

Call :func:`setup_altair` once at the top of a notebook: it chooses a renderer that works
offline both in JupyterLab and in the rendered HTML reports of :mod:`ecsflow.report`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import altair as alt
import polars as pl

__all__ = [
    "MAX_ROWS",
    "bar_chart",
    "heatmap_chart",
    "setup_altair",
    "timeline_chart",
]

MAX_ROWS = 5_000
"""Most rows a chart builder accepts (altair's own default limit); aggregate or sample first."""

_TYPE_CODES = {"quantitative": "Q", "temporal": "T", "nominal": "N", "ordinal": "O"}


class ScriptSafeJSONEncoder(json.JSONEncoder):
    """JSON that can sit inside an HTML ``<script>``: ``<``, ``>`` and ``&`` are escaped.

    Flow-log strings (cluster and service names) are data that someone else controls. The
    html renderer writes a chart's spec, data included, into a ``<script>`` element; a name
    holding ``</script>`` would end it and turn the rest into markup. JSON has these
    characters only inside strings, where ``\\u003c`` decodes back to ``<``: charts show the
    same text.

    >>> print(json.dumps({"name": "</script><img src=x>"}, cls=ScriptSafeJSONEncoder))
    {"name": "\\u003c/script\\u003e\\u003cimg src=x\\u003e"}
    """

    def encode(self, o: Any) -> str:
        text = super().encode(o)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")

    def iterencode(self, o: Any, _one_shot: bool = False) -> Iterator[str]:
        for chunk in super().iterencode(o, _one_shot):
            yield chunk.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def setup_altair(*, environ: Mapping[str, str] | None = None) -> str:
    """Choose altair's renderer and data transformer for where the notebook runs.

    In a report run (``ECSFLOW_REPORT=1``, set by :func:`ecsflow.report.render_notebook`)
    the default ``html`` renderer is used: the ``ecsflow_report`` template inlines the
    Vega libraries, so the HTML works offline. Anywhere else (JupyterLab) the ``jupyter``
    renderer in offline mode is used: it serves the Vega libraries from vl-convert through
    the kernel, so charts draw without internet access. In both cases the ``vegafusion``
    data transformer is enabled as a safety net for charts that aggregate in Vega-Lite.

    Parameters
    ----------
    environ
        The environment to read ``ECSFLOW_REPORT`` from; ``os.environ`` when omitted.

    Returns
    -------
    str
        The name of the renderer now active: ``"default"`` or ``"jupyter"``.

    Examples
    --------
    >>> import altair as alt
    >>> setup_altair(environ={"ECSFLOW_REPORT": "1"})
    'default'
    >>> _ = alt.data_transformers.enable("default")  # undo, for the other doctests
    """
    env = os.environ if environ is None else environ
    if env.get("ECSFLOW_REPORT", "").strip() == "1":
        alt.renderers.enable("default", json_kwds={"cls": ScriptSafeJSONEncoder})
    else:
        alt.renderers.enable("jupyter", offline=True)
    alt.data_transformers.enable("vegafusion")
    return alt.renderers.active


def _check_rows(frame: pl.DataFrame) -> None:
    if not isinstance(frame, pl.DataFrame):
        raise TypeError(
            f"chart builders take an aggregated polars DataFrame, got {type(frame).__name__}"
            " (collect a LazyFrame first)"
        )
    if frame.height > MAX_ROWS:
        raise ValueError(
            f"chart data has {frame.height:,} rows, more than {MAX_ROWS:,}: charts take "
            "pre-aggregated frames. Aggregate first (group_by, group_by_dynamic) or sample "
            f"(frame.sample({MAX_ROWS}, seed=0))."
        )


def _split(spec: str) -> tuple[str, str | None]:
    """``"bytes:Q"`` -> ``("bytes", "Q")``; ``"bytes"`` -> ``("bytes", None)``."""
    name, sep, code = spec.rpartition(":")
    if sep and code.upper() in _TYPE_CODES.values():
        return name, code.upper()
    return spec, None


def _type_code(dtype: pl.DataType) -> str:
    if dtype.is_numeric():
        return "Q"
    if dtype.is_temporal():
        return "T"
    return "N"


def _prepare(frame: pl.DataFrame, specs: Sequence[str | None]) -> tuple[pl.DataFrame, list[str]]:
    """Keep the encoded columns, make them JSON-friendly, and return full shorthands."""
    _check_rows(frame)
    names: list[str] = []
    shorthands: list[str] = []
    for spec in specs:
        if spec is None:
            continue
        name, code = _split(spec)
        if name not in frame.columns:
            raise KeyError(f"column {name!r} not in the chart frame (columns: {frame.columns})")
        dtype = frame.schema[name]
        if isinstance(dtype, pl.List | pl.Array | pl.Struct):
            raise TypeError(
                f"column {name!r} is {dtype}; flatten it first, e.g. "
                f"pl.col({name!r}).list.join(',')"
            )
        if name not in names:
            names.append(name)
        shorthands.append(f"{name}:{code or _type_code(dtype)}")
    data = frame.select(names).with_columns(
        pl.col(pl.Categorical, pl.Enum).cast(pl.String),
    )
    return data, shorthands


def _base(data: pl.DataFrame, *, title: str | None, width: Any, height: Any) -> alt.Chart:
    props: dict[str, Any] = {}
    if title is not None:
        props["title"] = title
    if width is not None:
        props["width"] = width
    if height is not None:
        props["height"] = height
    return alt.Chart(data).properties(**props)


def bar_chart(
    frame: pl.DataFrame,
    *,
    x: str,
    y: str,
    color: str | None = None,
    tooltip: Sequence[str] | None = None,
    horizontal: bool = False,
    title: str | None = None,
    width: int | str | None = None,
    height: int | str | None = None,
) -> alt.Chart:
    """Bar chart of an aggregated frame: one bar (or stacked segment) per row.

    Parameters
    ----------
    frame
        Aggregated data, at most :data:`MAX_ROWS` rows.
    x, y
        The category column and the value column (names or altair shorthand). With
        ``horizontal=True`` the category runs down the y axis and the bars go right.
    color
        Column that colours (and stacks) the bars.
    tooltip
        Columns shown on hover; default: the encoded columns.
    horizontal
        Draw horizontal bars (better for long category labels).
    title, width, height
        Chart properties.

    Returns
    -------
    alt.Chart
        A ``mark_bar`` chart with ``x``, ``y`` (and ``color``) encodings.

    Raises
    ------
    ValueError
        If the frame has more than :data:`MAX_ROWS` rows.

    Examples
    --------
    >>> import polars as pl
    >>> by_dir = pl.DataFrame({"flow_direction": ["ingress", "egress"], "bytes": [3202, 3202]})
    >>> chart = bar_chart(by_dir, x="flow_direction", y="bytes")
    >>> chart.mark
    'bar'
    >>> chart.encoding.x.shorthand, chart.encoding.y.shorthand
    ('flow_direction:N', 'bytes:Q')
    """
    data, (xs, ys, *rest) = _prepare(frame, [x, y, color, *(tooltip or [])])
    cs = rest.pop(0) if color is not None else None
    tips = rest or [s for s in (xs, ys, cs) if s is not None]
    cat, val = xs, ys
    encodings: dict[str, Any] = {"tooltip": tips}
    if horizontal:
        encodings["y"] = alt.Y(cat, sort="-x")
        encodings["x"] = alt.X(val)
    else:
        encodings["x"] = alt.X(cat, axis=alt.Axis(labelAngle=0))
        encodings["y"] = alt.Y(val)
    if cs is not None:
        encodings["color"] = alt.Color(cs)
    base = _base(data, title=title, width=width, height=height)
    return base.mark_bar().encode(**encodings)


def timeline_chart(
    frame: pl.DataFrame,
    *,
    x: str,
    y: str,
    color: str | None = None,
    mark: Literal["line", "area", "point"] = "line",
    tooltip: Sequence[str] | None = None,
    title: str | None = None,
    width: int | str | None = None,
    height: int | str | None = None,
) -> alt.Chart:
    """Line (or stacked area, or point) chart of a value over time.

    Parameters
    ----------
    frame
        Aggregated data, e.g. from ``group_by_dynamic("start", every="10m")``; at most
        :data:`MAX_ROWS` rows.
    x
        The time column (a polars Datetime is encoded as temporal).
    y
        The value column.
    color
        Column splitting the series.
    mark
        ``"line"``, ``"area"`` (stacked) or ``"point"``.
    tooltip
        Columns shown on hover; default: the encoded columns.
    title, width, height
        Chart properties.

    Returns
    -------
    alt.Chart
        A chart with ``x``, ``y`` (and ``color``) encodings.

    Raises
    ------
    ValueError
        If the frame has more than :data:`MAX_ROWS` rows, or ``mark`` is unknown.

    Examples
    --------
    >>> from datetime import datetime
    >>> import polars as pl
    >>> per_hour = pl.DataFrame({"start": [datetime(2024, 5, 19, 21), datetime(2024, 5, 19, 22)],
    ...                          "bytes": [336, 1430]})
    >>> timeline_chart(per_hour, x="start", y="bytes").encoding.x.shorthand
    'start:T'
    """
    marks = {"line": "mark_line", "area": "mark_area", "point": "mark_point"}
    if mark not in marks:
        raise ValueError(f"mark must be one of {sorted(marks)}, got {mark!r}")
    data, (xs, ys, *rest) = _prepare(frame, [x, y, color, *(tooltip or [])])
    cs = rest.pop(0) if color is not None else None
    tips = rest or [s for s in (xs, ys, cs) if s is not None]
    encodings: dict[str, Any] = {"x": alt.X(xs), "y": alt.Y(ys), "tooltip": tips}
    if cs is not None:
        encodings["color"] = alt.Color(cs)
    base = _base(data, title=title, width=width, height=height)
    extra = {"point": True} if mark == "line" else {}
    return getattr(base, marks[mark])(**extra).encode(**encodings)


def heatmap_chart(
    frame: pl.DataFrame,
    *,
    x: str,
    y: str,
    color: str,
    tooltip: Sequence[str] | None = None,
    title: str | None = None,
    width: int | str | None = None,
    height: int | str | None = None,
) -> alt.Chart:
    """Heatmap of an aggregated frame: one coloured cell per (x, y) row.

    Parameters
    ----------
    frame
        Aggregated data with one row per cell; at most :data:`MAX_ROWS` rows.
    x, y
        The two category columns.
    color
        The value column that colours the cell.
    tooltip
        Columns shown on hover; default: the encoded columns.
    title, width, height
        Chart properties.

    Returns
    -------
    alt.Chart
        A ``mark_rect`` chart with ``x``, ``y`` and ``color`` encodings.

    Raises
    ------
    ValueError
        If the frame has more than :data:`MAX_ROWS` rows.

    Examples
    --------
    >>> import polars as pl
    >>> cells = pl.DataFrame({"eni": ["a", "a"], "dir": ["in", "out"], "records": [3, 2]})
    >>> heatmap_chart(cells, x="dir", y="eni", color="records").encoding.color.shorthand
    'records:Q'
    """
    data, (xs, ys, cs, *rest) = _prepare(frame, [x, y, color, *(tooltip or [])])
    tips = rest or [xs, ys, cs]
    base = _base(data, title=title, width=width, height=height)
    return base.mark_rect().encode(x=alt.X(xs), y=alt.Y(ys), color=alt.Color(cs), tooltip=tips)
