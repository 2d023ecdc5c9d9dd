"""Container-id slots, per-ENI metadata consistency, and container-name resolution.

The two flow-log fields ``ecs-container-id`` and ``ecs-second-container-id`` ("slot 1" and
"slot 2") are easy to misread as "the container that sent this traffic". They are not: they
describe the task that owns the ENI, in ECS event-arrival order, and may be empty. The functions
here make what they do say measurable.

All functions take the flow frame first (a polars DataFrame or LazyFrame, as returned by
:func:`ecsflow.read_flow_logs` / :func:`ecsflow.scan_flow_logs`) and return the same kind.
Id columns in the results are plain strings.

Examples
--------
>>> import ecsflow
>>> flows = ecsflow.read_flow_logs("data/samples/article")
>>> ecsflow.containers.container_slots(flows).height
4
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from ecsflow.fields import ECS_FIELDS

__all__ = [
    "container_slots",
    "eni_metadata_consistency",
    "resolve_container_names",
    "sender_check",
    "slot_order_report",
]

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)
DescribeTasks = str | PathLike[str] | Mapping[str, Any]

_ECS_COLUMNS: tuple[str, ...] = tuple(f.column for f in ECS_FIELDS)
_RUNTIME_ID = r"^([0-9a-f]{32})-(\d+)$"
_TASK_DEFINITION = r"task-definition/([^:/]+):(\d+)$"
_TRUTH_KEYS = ("interface_id", "start", "srcaddr", "dstaddr", "srcport", "dstport", "protocol")


def _lazy(frame: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    return frame.lazy() if isinstance(frame, pl.DataFrame) else frame


def _like(out: pl.LazyFrame, frame: pl.DataFrame | pl.LazyFrame) -> Any:
    return out.collect() if isinstance(frame, pl.DataFrame) else out


def _text(column: str) -> pl.Expr:
    # Categorical columns must become strings before string ops and cross-frame joins.
    return pl.col(column).cast(pl.String)


def _family_revision() -> list[pl.Expr]:
    arn = _text("ecs_task_definition_arn")
    return [
        arn.str.extract(_TASK_DEFINITION, 1).alias("task_family"),
        arn.str.extract(_TASK_DEFINITION, 2).cast(pl.Int64).alias("task_revision"),
    ]


def _attach_names(slots: pl.LazyFrame, names: pl.DataFrame | pl.LazyFrame | None) -> pl.LazyFrame:
    """Add ``container_name``/``second_container_name`` (+ inferred flags) to a slots frame."""
    if names is None:
        return slots.with_columns(
            pl.lit(None, pl.String).alias("container_name"),
            pl.lit(None, pl.String).alias("second_container_name"),
            pl.lit(None, pl.Boolean).alias("container_name_inferred"),
            pl.lit(None, pl.Boolean).alias("second_container_name_inferred"),
        )
    names = _lazy(names)
    schema = names.collect_schema()
    if "runtime_id" in schema:
        key, dtype, slot_keys = (
            "runtime_id",
            pl.String,
            ("ecs_container_id", "ecs_second_container_id"),
        )
    elif "suffix" in schema:
        key, dtype = "suffix", pl.Int64
        slot_keys = ("ecs_container_id_suffix", "ecs_second_container_id_suffix")
    else:
        raise ValueError("names needs a 'runtime_id' or a 'suffix' column, and 'container_name'")
    names = names.with_columns(pl.col(key).cast(dtype))
    slots = slots.with_columns(pl.col(k).cast(dtype) for k in slot_keys)
    inferred = pl.col("inferred") if "inferred" in schema else pl.lit(False)
    names = names.select(
        key, _text("container_name"), inferred.cast(pl.Boolean).alias("inferred")
    ).unique(key, keep="first")
    for slot_key, prefix in zip(slot_keys, ("", "second_"), strict=True):
        renamed = names.rename(
            {
                "container_name": f"{prefix}container_name",
                "inferred": f"{prefix}container_name_inferred",
            }
        )
        slots = slots.join(
            renamed, left_on=slot_key, right_on=key, how="left", maintain_order="left"
        )
    return slots


def container_slots(
    flows: FrameT, /, *, names: pl.DataFrame | pl.LazyFrame | None = None
) -> FrameT:
    """One row per ECS task and slot state: what the two container-id fields say over time.

    A task normally gets one row. When its slot values change over time (ordered by record
    start), each consecutive run of identical values gets its own row, numbered by ``segment``.

    Parameters
    ----------
    flows
        Cleaned flow records. Records without an ``ecs_task_id`` are ignored.
    names
        Optional container names: a frame with ``container_name`` and either ``runtime_id``
        (matched exactly to the slot values) or ``suffix`` (matched to the slot suffixes), and
        optionally ``inferred``. :func:`resolve_container_names` returns such a frame.

    Returns
    -------
    DataFrame or LazyFrame
        ``ecs_task_id``, ``segment``, ``ecs_cluster_name``, ``ecs_service_name``,
        ``ecs_task_definition_arn``, ``task_family``, ``task_revision``, ``ecs_container_id``,
        ``ecs_second_container_id``, ``ecs_container_id_suffix``,
        ``ecs_second_container_id_suffix``, ``container_name``, ``second_container_name``,
        ``container_name_inferred``, ``second_container_name_inferred``, ``first_slot_empty``,
        ``second_slot_empty``, ``first_seen`` (earliest start), ``last_seen`` (latest end) and
        ``records``; sorted by ``first_seen``, ``ecs_task_id``, ``segment``.

    Examples
    --------
    >>> import ecsflow
    >>> flows = ecsflow.read_flow_logs("data/samples/article")
    >>> slots = container_slots(flows)
    >>> slots.select("ecs_container_id_suffix", "ecs_second_container_id_suffix").rows()
    [(3472355196, None), (3254704778, 3472355196), (3472355196, 3254704778), (None, 3254704778)]
    >>> slots["first_slot_empty"].to_list()
    [False, False, False, True]
    """
    slot1, slot2 = _text("ecs_container_id"), _text("ecs_second_container_id")
    # Nulls spelled '-' so the key is never null: a task's first record then always differs
    # from its (null) predecessor and opens segment 0.
    state = pl.concat_str([slot1.fill_null("-"), slot2.fill_null("-")], separator="|")
    order = ["start", "end"]
    lf = (
        _lazy(flows)
        .filter(pl.col("ecs_task_id").is_not_null())
        .with_columns(
            state.ne_missing(state.shift(1))
            .cast(pl.Int32)
            .cum_sum()
            .over("ecs_task_id", order_by=order)
            .sub(1)
            .alias("segment")
        )
        .group_by(_text("ecs_task_id"), "segment")
        .agg(
            *(
                _text(c).first()
                for c in ("ecs_cluster_name", "ecs_service_name", "ecs_task_definition_arn")
            ),
            slot1.first().alias("ecs_container_id"),
            slot2.first().alias("ecs_second_container_id"),
            pl.col("ecs_container_id_suffix").first(),
            pl.col("ecs_second_container_id_suffix").first(),
            pl.col("start").min().alias("first_seen"),
            pl.col("end").max().alias("last_seen"),
            pl.len().cast(pl.Int64).alias("records"),
        )
        .with_columns(
            *_family_revision(),
            pl.col("ecs_container_id").is_null().alias("first_slot_empty"),
            pl.col("ecs_second_container_id").is_null().alias("second_slot_empty"),
        )
    )
    lf = _attach_names(lf, names).select(
        "ecs_task_id",
        "segment",
        "ecs_cluster_name",
        "ecs_service_name",
        "ecs_task_definition_arn",
        "task_family",
        "task_revision",
        "ecs_container_id",
        "ecs_second_container_id",
        "ecs_container_id_suffix",
        "ecs_second_container_id_suffix",
        "container_name",
        "second_container_name",
        "container_name_inferred",
        "second_container_name_inferred",
        "first_slot_empty",
        "second_slot_empty",
        "first_seen",
        "last_seen",
        "records",
    )
    return _like(lf.sort("first_seen", "ecs_task_id", "segment"), flows)


def eni_metadata_consistency(flows: FrameT, /) -> FrameT:
    """Per ENI: does every record carry the same ECS values (finding 1)?

    ECS fields describe the ENI's owner, not the flow: ingress and egress, request and response
    records of one ENI should all agree. A null (``'-'``) counts as a value, so a field that is
    sometimes ``'-'`` and sometimes set varies.

    Parameters
    ----------
    flows
        Cleaned flow records.

    Returns
    -------
    DataFrame or LazyFrame
        ``interface_id``, ``records``, ``ingress_records``, ``egress_records``, ``ecs_task_id``
        (the ENI's task when it is the same on every record, else null), ``consistent`` and
        ``varying_fields`` (the ECS columns with more than one value, in field order); sorted by
        ``interface_id``.

    Examples
    --------
    >>> import ecsflow
    >>> flows = ecsflow.read_flow_logs("data/samples/article")
    >>> report = eni_metadata_consistency(flows)
    >>> report.select("records", "consistent").rows()
    [(2, True), (2, True), (4, True), (2, True)]
    """
    lf = _lazy(flows)
    present = [c for c in _ECS_COLUMNS if c in lf.collect_schema()]
    direction = _text("flow_direction")
    lf = (
        lf.group_by(_text("interface_id"))
        .agg(
            pl.len().cast(pl.Int64).alias("records"),
            (direction == "ingress").sum().cast(pl.Int64).alias("ingress_records"),
            (direction == "egress").sum().cast(pl.Int64).alias("egress_records"),
            _text("ecs_task_id").first().alias("_task"),
            *(pl.col(c).n_unique().alias(f"_n_{c}") for c in present),
        )
        .with_columns(
            pl.concat_list([pl.when(pl.col(f"_n_{c}") > 1).then(pl.lit(c)) for c in present])
            .list.drop_nulls()
            .alias("varying_fields")
        )
        .with_columns(
            (pl.col("varying_fields").list.len() == 0).alias("consistent"),
        )
        .with_columns(
            pl.when(pl.col("_n_ecs_task_id") == 1).then("_task").alias("ecs_task_id")
            if "ecs_task_id" in present
            else pl.lit(None, pl.String).alias("ecs_task_id")
        )
        .select(
            "interface_id",
            "records",
            "ingress_records",
            "egress_records",
            "ecs_task_id",
            "consistent",
            "varying_fields",
        )
        .sort("interface_id")
    )
    return _like(lf, flows)


def slot_order_report(
    flows: FrameT,
    /,
    *,
    names: pl.DataFrame | pl.LazyFrame | None = None,
    by: Sequence[str] = ("ecs_service_name", "task_family", "task_revision"),
) -> FrameT:
    """Per service and task definition: slot orders, empty slots, extra containers (findings 3, 4).

    Parameters
    ----------
    flows
        Cleaned flow records.
    names
        Optional container names, as for :func:`container_slots`. A slot is labelled by its
        container name when known, else by its suffix, else by its raw id.
    by
        Columns of :func:`container_slots` to group by. The default keeps each service and
        task-definition revision apart; ``by=("task_family",)`` pools deploys of one family.

    Returns
    -------
    DataFrame or LazyFrame
        One row per group and order: the ``by`` columns, ``slot_1`` and ``slot_2`` (the labels,
        null when empty), ``tasks`` (tasks that showed this order), and per group
        ``group_tasks``, ``first_slot_empty_tasks``, ``second_slot_empty_tasks`` and
        ``more_than_two_containers_tasks`` (tasks with more than two distinct container ids over
        time). A task whose order changes counts under each order it showed.

    Examples
    --------
    >>> import ecsflow
    >>> flows = ecsflow.read_flow_logs("data/samples/article")
    >>> report = slot_order_report(flows, by=("task_family",))
    >>> report.select("task_family", "slot_1", "slot_2", "tasks").rows()
    [('EcsStackEcsFargateConstruct2TaskDefinition4E5DC27B', None, '3254704778', 1),
     ('EcsStackEcsFargateConstruct2TaskDefinition4E5DC27B', '3472355196', None, 1),
     ('EcsStackEcsFargateConstructTaskDefinition9DD364BE', '3254704778', '3472355196', 1),
     ('EcsStackEcsFargateConstructTaskDefinition9DD364BE', '3472355196', '3254704778', 1)]
    """
    by = list(by)
    slots = _lazy(container_slots(_lazy(flows), names=names))

    def label(prefix: str, id_col: str) -> pl.Expr:
        return pl.coalesce(
            pl.col(f"{prefix}container_name"),
            pl.col(f"{id_col}_suffix").cast(pl.String),
            pl.col(id_col),
        )

    slots = slots.with_columns(
        label("", "ecs_container_id").alias("slot_1"),
        label("second_", "ecs_second_container_id").alias("slot_2"),
    )
    per_task = slots.group_by(*by, "ecs_task_id").agg(
        pl.col("first_slot_empty").any(),
        pl.col("second_slot_empty").any(),
        (
            pl.col("ecs_container_id")
            .append(pl.col("ecs_second_container_id"))
            .drop_nulls()
            .n_unique()
            > 2
        ).alias("more_than_two"),
    )
    groups = per_task.group_by(by).agg(
        pl.len().cast(pl.Int64).alias("group_tasks"),
        pl.col("first_slot_empty").sum().cast(pl.Int64).alias("first_slot_empty_tasks"),
        pl.col("second_slot_empty").sum().cast(pl.Int64).alias("second_slot_empty_tasks"),
        pl.col("more_than_two").sum().cast(pl.Int64).alias("more_than_two_containers_tasks"),
    )
    orders = slots.group_by(*by, "slot_1", "slot_2").agg(
        pl.col("ecs_task_id").n_unique().cast(pl.Int64).alias("tasks")
    )
    # Join on nulls too: a standalone task's service name is null and still forms a group.
    lf = orders.join(groups, on=by, how="left", nulls_equal=True).sort(
        *by, "slot_1", "slot_2", nulls_last=False
    )
    return _like(lf, flows)


def _describe_tasks_frame(describe_tasks: DescribeTasks | Iterable[DescribeTasks]) -> pl.DataFrame:
    """Flatten DescribeTasks responses into (runtime_id, container_name, task definition)."""
    if isinstance(describe_tasks, str | PathLike | Mapping):
        describe_tasks = [describe_tasks]
    rows: list[dict[str, Any]] = []
    for item in describe_tasks:
        doc = item if isinstance(item, Mapping) else json.loads(Path(item).read_text())
        for task in doc.get("tasks", []):
            for container in task.get("containers", []):
                if container.get("runtimeId"):
                    rows.append(
                        {
                            "runtime_id": container["runtimeId"],
                            "container_name": container["name"],
                            "ecs_task_definition_arn": task.get("taskDefinitionArn"),
                        }
                    )
    schema = {
        "runtime_id": pl.String,
        "container_name": pl.String,
        "ecs_task_definition_arn": pl.String,
    }
    return pl.DataFrame(rows, schema=schema).unique("runtime_id", keep="first", maintain_order=True)


def resolve_container_names(
    flows: FrameT,
    /,
    *,
    describe_tasks: DescribeTasks | Iterable[DescribeTasks] | None = None,
    known: Mapping[str | int, str] | None = None,
) -> FrameT:
    """Map the runtime ids in the container-id slots to container names.

    Exact sources first: DescribeTasks output (``tasks[].containers[].runtimeId`` and ``name``)
    and ``known`` runtime ids. For the remaining ids the name is inferred from the runtime-id
    suffix (``<task-id>-<number>``; finding 5: the number follows the container across tasks):
    a suffix whose name was learned exactly on any task of the same task-definition family names
    that id; failing that, a ``known`` suffix names it in any family. Inferred names are marked,
    and the runtime ids that taught them are kept as evidence. A suffix that taught two names in
    one family names nothing (``source='ambiguous'``).

    Parameters
    ----------
    flows
        Cleaned flow records.
    describe_tasks
        ECS DescribeTasks responses: a JSON file path, a parsed dict, or a list of those.
        Tasks absent from the flows still teach suffixes to their family.
    known
        Seed names: keys are runtime ids (exact) or suffixes (an int or a string of digits,
        applied as inference).

    Returns
    -------
    DataFrame or LazyFrame
        One row per runtime id seen in either slot: ``runtime_id``, ``ecs_task_id``,
        ``task_family``, ``suffix``, ``container_name`` (null when unknown), ``inferred``,
        ``source`` (``describe_tasks``, ``known``, ``family``, ``known_suffix``, ``ambiguous``
        or null) and ``evidence`` (runtime ids behind the name); sorted by ``runtime_id``.

    Examples
    --------
    >>> import ecsflow
    >>> flows = ecsflow.read_flow_logs("data/samples/article")
    >>> seed = {"d077e9006cdb442dbaddcd059c7b9ba9-3254704778": "NginxContainer",
    ...         3472355196: "BusyboxContainer"}
    >>> names = resolve_container_names(flows, known=seed)
    >>> names.select("ecs_task_id", "suffix", "container_name", "source").rows()
    [('25b9b1a127694afdbc9e0def558fab6c', 3254704778, None, None),
     ('88316020871d4ec7a200c1ce6d25273d', 3472355196, 'BusyboxContainer', 'known_suffix'),
     ('d077e9006cdb442dbaddcd059c7b9ba9', 3254704778, 'NginxContainer', 'known'),
     ('d077e9006cdb442dbaddcd059c7b9ba9', 3472355196, 'BusyboxContainer', 'known_suffix'),
     ('e6d7d4244d6e4bc39566c31a027a6f61', 3254704778, 'NginxContainer', 'family'),
     ('e6d7d4244d6e4bc39566c31a027a6f61', 3472355196, 'BusyboxContainer', 'known_suffix')]
    """
    lf = _lazy(flows)
    seen = (
        pl.concat(
            [
                lf.select(
                    _text(c).alias("runtime_id"),
                    pl.col(f"{c}_suffix").alias("suffix"),
                    _text("ecs_task_id"),
                    _text("ecs_task_definition_arn"),
                )
                for c in ("ecs_container_id", "ecs_second_container_id")
            ]
        )
        .filter(pl.col("runtime_id").is_not_null())
        .unique("runtime_id", keep="first")
        .with_columns(_family_revision()[0])
        .drop("ecs_task_definition_arn")
    )

    known = dict(known or {})
    # All digits is a suffix; anything else (Fargate '<task>-<n>', an EC2 Docker id) is exact.
    exact_known = {str(k): v for k, v in known.items() if not str(k).isdigit()}
    suffix_known = {int(k): v for k, v in known.items() if str(k).isdigit()}
    exact = pl.concat(
        [
            _describe_tasks_frame(describe_tasks or [])
            .lazy()
            .with_columns(_family_revision()[0], pl.lit("describe_tasks").alias("source"))
            .drop("ecs_task_definition_arn"),
            pl.LazyFrame(
                {"runtime_id": list(exact_known), "container_name": list(exact_known.values())},
                schema={"runtime_id": pl.String, "container_name": pl.String},
            )
            .join(seen.select("runtime_id", "task_family"), on="runtime_id", how="left")
            .with_columns(pl.lit("known").alias("source")),
        ]
    ).unique("runtime_id", keep="first")  # DescribeTasks wins over a seed for the same id

    # Suffixes learned exactly, per family; ambiguous when one suffix taught two names.
    learned = (
        exact.with_columns(
            pl.col("runtime_id").str.extract(_RUNTIME_ID, 2).cast(pl.Int64).alias("suffix")
        )
        .filter(pl.col("suffix").is_not_null(), pl.col("task_family").is_not_null())
        .group_by("task_family", "suffix")
        .agg(
            pl.col("container_name").unique().sort().alias("_names"),
            pl.col("runtime_id").unique().sort().alias("_learned_from"),
        )
        .with_columns(
            pl.when(pl.col("_names").list.len() == 1)
            .then(pl.col("_names").list.first())
            .alias("_family_name")
        )
        .drop("_names")
    )
    seeds = pl.LazyFrame(
        {"suffix": list(suffix_known), "_seed_name": list(suffix_known.values())},
        schema={"suffix": pl.Int64, "_seed_name": pl.String},
    )
    out = (
        seen.join(
            exact.select(
                "runtime_id",
                pl.col("container_name").alias("_exact_name"),
                pl.col("source").alias("_exact_source"),
            ),
            on="runtime_id",
            how="left",
        )
        .join(learned, on=["task_family", "suffix"], how="left")
        .join(seeds, on="suffix", how="left")
        .with_columns(
            pl.when(pl.col("_exact_name").is_not_null())
            .then(pl.col("_exact_source"))
            .when(pl.col("_family_name").is_not_null())
            .then(pl.lit("family"))
            .when(pl.col("_learned_from").is_not_null())
            .then(pl.lit("ambiguous"))
            .when(pl.col("_seed_name").is_not_null())
            .then(pl.lit("known_suffix"))
            .alias("source")
        )
        .with_columns(
            pl.coalesce("_exact_name", "_family_name", "_seed_name").alias("container_name"),
            pl.when(pl.col("source").is_in(["describe_tasks", "known"]))
            .then(False)
            .when(pl.col("source").is_in(["family", "known_suffix"]))
            .then(True)
            .alias("inferred"),
            pl.when(pl.col("source").is_in(["describe_tasks", "known"]))
            .then(pl.concat_list(pl.col("runtime_id")))
            .when(pl.col("source").is_in(["family", "ambiguous"]))
            .then(pl.col("_learned_from"))
            .when(pl.col("source") == "known_suffix")
            .then(pl.lit([], pl.List(pl.String)))
            .alias("evidence"),
        )
        .with_columns(
            # An ambiguous family lesson must not fall through to a global seed.
            pl.when(pl.col("source") != "ambiguous").then("container_name")
        )
        .select(
            "runtime_id",
            "ecs_task_id",
            "task_family",
            "suffix",
            "container_name",
            "inferred",
            "source",
            "evidence",
        )
        .sort("runtime_id")
    )
    return _like(out, flows)


def sender_check(
    flows: FrameT,
    truth: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    names: pl.DataFrame | pl.LazyFrame,
    by: Sequence[str] = (),
    per_record: bool = False,
) -> FrameT:
    """How often slot 1, slot 2 or either names the container that really sent (finding 2).

    Only egress records of ECS ENIs are scored: only there does the sender live in the task
    the slots describe. Records whose true sender is not a container (e.g. replies from the
    internet) are left out.

    Parameters
    ----------
    flows
        Cleaned flow records.
    truth
        Ground truth, one row per record: ``interface_id``, ``start``, ``srcaddr``, ``dstaddr``,
        ``srcport``, ``dstport``, ``protocol`` (the join keys) and ``src_container_name``
        (null when the sender is not a container), as written by the simulator.
    names
        Container names for the slots, as for :func:`container_slots`.
    by
        Columns of the flows (or ``task_family``/``task_revision``) to break the rates down by.
    per_record
        Return the scored records instead of the rates.

    Returns
    -------
    DataFrame or LazyFrame
        The ``by`` columns, ``records``, ``slot_1_hits``, ``slot_2_hits``, ``either_hits`` and
        ``slot_1_rate``, ``slot_2_rate``, ``either_rate``. With ``per_record=True``: the join
        keys, ``ecs_task_id``, ``container_name``, ``second_container_name``,
        ``src_container_name`` and the booleans ``slot_1_hit``, ``slot_2_hit``, ``either_hit``.

    Examples
    --------
    >>> import ecsflow, polars as pl
    >>> flows = ecsflow.read_flow_logs("data/samples/article")
    >>> names = resolve_container_names(
    ...     flows, known={3254704778: "NginxContainer", 3472355196: "BusyboxContainer"})
    >>> ping = flows.filter(pl.col("protocol") == 1, pl.col("flow_direction") == "egress")
    >>> truth = ping.select("interface_id", "start", "srcaddr", "dstaddr", "srcport",
    ...                     "dstport", "protocol", src_container_name=pl.lit("BusyboxContainer"))
    >>> sender_check(flows, truth, names=names).select("records", "slot_1_rate").rows()
    [(1, 1.0)]
    """
    keys = list(_TRUTH_KEYS)

    def normalized(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.with_columns(
            _text("interface_id"),
            _text("srcaddr"),
            _text("dstaddr"),
            *(pl.col(c).cast(pl.Int64) for c in ("srcport", "dstport", "protocol")),
            pl.col("start").cast(pl.Datetime("us", "UTC")),
        )

    records = (
        normalized(_lazy(flows))
        .filter(_text("flow_direction") == "egress", pl.col("ecs_task_id").is_not_null())
        .with_columns(_family_revision())
    )
    records = _attach_names(records, names)
    truth_lf = normalized(_lazy(truth)).select(*keys, _text("src_container_name"))
    sender = pl.col("src_container_name")
    scored = (
        records.join(truth_lf, on=keys, how="inner")
        .filter(sender.is_not_null())
        .with_columns(
            (pl.col("container_name") == sender).fill_null(False).alias("slot_1_hit"),
            (pl.col("second_container_name") == sender).fill_null(False).alias("slot_2_hit"),
        )
        .with_columns((pl.col("slot_1_hit") | pl.col("slot_2_hit")).alias("either_hit"))
    )
    if per_record:
        out = scored.select(
            *keys,
            _text("ecs_task_id"),
            *by,
            "container_name",
            "second_container_name",
            "src_container_name",
            "slot_1_hit",
            "slot_2_hit",
            "either_hit",
        ).sort(keys)
        return _like(out, flows)
    hits = {
        f"{s}_hits": pl.col(f"{s}_hit").sum().cast(pl.Int64) for s in ("slot_1", "slot_2", "either")
    }
    aggs = [pl.len().cast(pl.Int64).alias("records"), *(e.alias(k) for k, e in hits.items())]
    summary = scored.group_by(list(by)).agg(aggs) if by else scored.select(aggs)
    summary = summary.with_columns(
        (pl.col(f"{s}_hits") / pl.col("records")).alias(f"{s}_rate")
        for s in ("slot_1", "slot_2", "either")
    )
    if by:
        summary = summary.sort(list(by))
    return _like(summary, flows)
