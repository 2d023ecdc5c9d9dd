"""Chart builders: alt.Chart with the expected encodings, over small aggregated frames only."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from datetime import UTC, datetime

import altair as alt
import polars as pl
import pytest

from ecsflow.charts import MAX_ROWS, bar_chart, heatmap_chart, setup_altair, timeline_chart

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _restore_altair() -> Iterator[None]:
    renderer, transformer = alt.renderers.active, alt.data_transformers.active
    yield
    alt.renderers.enable(renderer)
    alt.data_transformers.enable(transformer)


@pytest.fixture
def by_path() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "flow_direction": ["egress", "egress", "ingress"],
            "traffic_path_name": ["same VPC", "internet gateway", None],
            "bytes": [2866, 336, 3202],
            "records": [4, 1, 5],
        }
    ).with_columns(
        pl.col("flow_direction").cast(pl.Enum(["ingress", "egress"])),
        pl.col("traffic_path_name").cast(pl.Categorical),
    )


def _field_type(channel: object) -> tuple[str, str]:
    name, code = channel.shorthand.split(":")  # type: ignore[attr-defined]
    return name, code


def test_bar_chart_encodings(by_path: pl.DataFrame):
    chart = bar_chart(
        by_path, x="flow_direction", y="bytes", color="traffic_path_name", title="t", width=300
    )
    assert isinstance(chart, alt.Chart)
    assert chart.mark == "bar"
    assert _field_type(chart.encoding.x) == ("flow_direction", "N")
    assert _field_type(chart.encoding.y) == ("bytes", "Q")
    assert _field_type(chart.encoding.color) == ("traffic_path_name", "N")
    assert [t.shorthand for t in chart.encoding.tooltip] == [
        "flow_direction:N",
        "bytes:Q",
        "traffic_path_name:N",
    ]
    assert chart.title == "t" and chart.width == 300


def test_bar_chart_embeds_only_encoded_columns_as_plain_strings(by_path: pl.DataFrame):
    chart = bar_chart(by_path, x="flow_direction", y="bytes")
    assert chart.data.columns == ["flow_direction", "bytes"]
    assert chart.data.schema["flow_direction"] == pl.String
    spec = chart.to_dict()
    assert spec["encoding"]["x"]["field"] == "flow_direction"
    assert spec["encoding"]["x"]["type"] == "nominal"
    assert len(spec["datasets"][spec["data"]["name"]]) == 3


def test_bar_chart_horizontal_puts_categories_on_y(by_path: pl.DataFrame):
    chart = bar_chart(by_path, x="flow_direction", y="records", horizontal=True)
    assert _field_type(chart.encoding.y) == ("flow_direction", "N")
    assert _field_type(chart.encoding.x) == ("records", "Q")
    assert chart.to_dict()["encoding"]["y"]["sort"] == "-x"


def test_tooltip_and_shorthand_override(by_path: pl.DataFrame):
    chart = bar_chart(by_path, x="records:O", y="bytes", tooltip=["records", "bytes"])
    assert _field_type(chart.encoding.x) == ("records", "O")
    assert [t.shorthand for t in chart.encoding.tooltip] == ["records:Q", "bytes:Q"]


def test_timeline_chart_encodings():
    frame = pl.DataFrame(
        {
            "start": [datetime(2024, 5, 19, 21, tzinfo=UTC), datetime(2024, 5, 19, 22, tzinfo=UTC)],
            "bytes": [336, 1430],
            "service": ["a", "b"],
        }
    )
    chart = timeline_chart(frame, x="start", y="bytes", color="service")
    assert isinstance(chart, alt.Chart)
    assert chart.mark.type == "line"
    assert _field_type(chart.encoding.x) == ("start", "T")
    assert _field_type(chart.encoding.y) == ("bytes", "Q")
    assert _field_type(chart.encoding.color) == ("service", "N")
    assert timeline_chart(frame, x="start", y="bytes", mark="area").mark == "area"
    with pytest.raises(ValueError, match="mark must be one of"):
        timeline_chart(frame, x="start", y="bytes", mark="pie")  # type: ignore[arg-type]


def test_heatmap_chart_encodings():
    frame = pl.DataFrame({"eni": ["a", "a", "b"], "dir": ["in", "out", "in"], "records": [3, 2, 1]})
    chart = heatmap_chart(frame, x="dir", y="eni", color="records")
    assert isinstance(chart, alt.Chart)
    assert chart.mark == "rect"
    assert _field_type(chart.encoding.x) == ("dir", "N")
    assert _field_type(chart.encoding.y) == ("eni", "N")
    assert _field_type(chart.encoding.color) == ("records", "Q")


@pytest.mark.parametrize(
    "build",
    [
        lambda f: bar_chart(f, x="i", y="v"),
        lambda f: timeline_chart(f, x="i", y="v"),
        lambda f: heatmap_chart(f, x="i", y="i", color="v"),
    ],
    ids=["bar", "timeline", "heatmap"],
)
def test_builders_refuse_frames_over_max_rows(build):
    assert MAX_ROWS == 5_000
    ok = pl.DataFrame({"i": range(MAX_ROWS), "v": range(MAX_ROWS)})
    assert isinstance(build(ok), alt.Chart)
    too_big = pl.DataFrame({"i": range(MAX_ROWS + 1), "v": range(MAX_ROWS + 1)})
    with pytest.raises(ValueError, match=r"5,001 rows, more than 5,000.*pre-aggregated"):
        build(too_big)


def test_builders_explain_bad_input(by_path: pl.DataFrame):
    with pytest.raises(TypeError, match="collect a LazyFrame"):
        bar_chart(by_path.lazy(), x="flow_direction", y="bytes")  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="'packets' not in the chart frame"):
        bar_chart(by_path, x="flow_direction", y="packets")
    flags = pl.DataFrame({"tcp_flag_names": [["SYN"]], "records": [1]})
    with pytest.raises(TypeError, match=r"list\.join"):
        bar_chart(flags, x="tcp_flag_names", y="records")


def test_setup_altair_uses_the_default_renderer_in_reports():
    assert setup_altair(environ={"ECSFLOW_REPORT": "1"}) == "default"
    assert alt.renderers.active == "default"
    assert alt.data_transformers.active == "vegafusion"


def test_setup_altair_uses_the_offline_jupyter_renderer_elsewhere():
    if importlib.util.find_spec("anywidget") is None:
        if IN_CI:
            pytest.fail("anywidget is required for the jupyter renderer (CI=true)")
        pytest.skip("anywidget is not installed")
    assert setup_altair(environ={}) == "jupyter"
    assert alt.renderers.active == "jupyter"
    assert alt.data_transformers.active == "vegafusion"
