"""The deployment model behind :func:`ecsflow.simulate`: ECS tasks over time and their flows.

:class:`SimulationParams` holds every rate and size, validated. :func:`iter_windows` runs the
model and yields, per 5-minute delivery window, the records AWS would deliver (as numpy arrays
of codes and indices, with their ground truth). Turning those into files is the job of
:mod:`ecsflow.simulate`.

Modelled (see ``shared/seed/FINDINGS.md`` for the ECS-field mechanics):

* clusters (Fargate or EC2 launch type), services with task definitions (1-3 containers, new
  revision per deployment), standalone tasks; one ENI per (``awsvpc``) task with an IP from a
  subnet, released when the task stops and free for reuse;
* deployments (all tasks replaced), scaling, task failures;
* service-to-service TCP calls, load balancer to tasks, internet clients to the load balancer,
  calls to the internet through a NAT gateway or an internet gateway, S3 through a gateway
  endpoint, ICMP pings, rejected probes from an EC2 instance; long connections span intervals;
* each flow recorded per ENI and direction, responses included; tcp-flags OR-ed per interval;
  NODATA for quiet ENIs, SKIPDATA replacing an ENI's records in an interval;
* ECS fields per ENI: slot order, empty slots, a stopped container lingering, fields missing
  until the task's ECS event arrives.

Examples
--------
>>> p = SimulationParams(clusters=1, services_per_cluster=2)
>>> p.aggregation_interval
600
>>> SimulationParams(p_empty_slot=1.5)
Traceback (most recent call last):
...
ValueError: p_empty_slot must be a probability in [0, 1], got 1.5
"""

from __future__ import annotations

import ipaddress
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

import numpy as np

__all__ = ["PEER_KINDS", "SimulationParams", "Window", "iter_windows"]

WINDOW_SECONDS = 300  # AWS publishes one S3 object per 5 minutes of record end times
PEER_KINDS = ("ecs_task", "vpc_eni", "internet", "aws_service")
EPHEMERAL = (32768, 60999)  # Linux default ip_local_port_range, used by Fargate tasks

# Codes used in the record arrays (the writer maps them to AWS's strings).
OK, NODATA, SKIPDATA = 0, 1, 2
ACCEPT, REJECT = 0, 1
INGRESS, EGRESS = 0, 1
KIND_TASK, KIND_EC2, KIND_HOST, KIND_LB, KIND_NAT, KIND_IDLE = range(6)

_SERVICE_NAMES = (
    "frontend",
    "orders",
    "payments",
    "catalog",
    "inventory",
    "users",
    "search",
    "shipping",
    "notifications",
    "pricing",
    "reviews",
    "auth",
)
_SIDECARS = ("envoy", "log-router", "xray-daemon")
_CLUSTER_NAMES = ("core", "edge", "data", "ops", "ml", "web")
_JOBS = ("report-job", "db-migrate", "nightly-export")
# Public addresses the tasks call (documentation and well-known ranges, none of them AWS's).
_API_NETS = ("203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24")
_S3_NET = "52.216.0.0/15"  # an S3 range of ip-ranges.json (us-east-1)
_CLIENT_FIRST_OCTETS = (24, 31, 45, 62, 73, 81, 98, 109, 121, 151, 176, 185, 201)
# How AZ ids abbreviate a region: us-east-1 -> use1, ap-northeast-1 -> apne1.
_DIRECTIONS = {
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "central": "c",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
}
_PING_TARGET = int(ipaddress.ip_address("8.8.8.8"))


@dataclass(frozen=True, kw_only=True)
class SimulationParams:
    """Sizes and rates of a simulated deployment; every rate has a realistic default.

    Rates are per minute (traffic) or per day (lifecycle events); ``p_*`` are probabilities.
    Invalid values raise ``ValueError`` naming the parameter.

    Attributes
    ----------
    start
        Simulation start (UTC); floored to the aggregation interval.
    aggregation_interval
        Maximum aggregation interval in seconds: 60 or 600 (AWS's two choices).
    account_id, region
        Owner account and region of every ENI.
    clusters, ec2_clusters
        Number of ECS clusters, and how many of them use the EC2 launch type (the rest
        Fargate).
    container_instances_per_cluster
        EC2 container instances per EC2 cluster.
    services_per_cluster, public_services
        Services per cluster, and how many services in all run in public subnets with a
        public IP (they reach the internet through the internet gateway, the others through
        the NAT gateway).
    min_tasks, max_tasks
        Bounds of a service's desired count; it starts uniformly in between.
    max_containers
        Containers per task definition are drawn from 1..max_containers (at most 3).
    availability_zones, subnet_prefix_length
        One private and one public subnet per AZ, carved from ``10.0.0.0/16``.
    ec2_instances, load_balancer, idle_enis
        Non-ECS ENIs: EC2 instances that call services (and probe one closed port), an
        application load balancer (one ENI per AZ) in front of the first service of each
        cluster, and ENIs without traffic (NODATA).
    deployments_per_day, scaling_events_per_day, task_failures_per_day
        Per service: rolling deployments (every task replaced by one of a new revision),
        desired-count changes by one, and failures of one task (replaced by a new task).
    standalone_tasks_per_hour, standalone_task_minutes, max_standalone_tasks
        Standalone tasks (no service): arrival rate, mean run time, concurrency cap.
    calls_per_minute
        Connections per minute from a task to each service it depends on.
    lb_requests_per_minute
        Connections per minute from the load balancer to each target task.
    internet_clients_per_minute
        Connections per minute from internet clients to each load balancer ENI.
    internet_calls_per_minute, s3_calls_per_minute
        Connections per minute from each task to the internet and to S3.
    ec2_calls_per_minute, rejected_per_minute
        Per EC2 instance: connections to services, and rejected attempts (port 22) on tasks.
    p_ping
        Probability that a task in a public subnet pings 8.8.8.8 in an interval (ICMP).
    p_long_connection, long_connection_minutes
        Share of connections that stay open, and their mean duration (they span intervals).
    request_bytes_mean, response_bytes_mean
        Mean payload bytes of a request and of a response.
    p_skipdata
        Probability that an ENI's records of an interval are replaced by one SKIPDATA record.
    p_order_swapped
        Probability that a task's container events arrive in reverse task-definition order,
        which swaps ``ecs-container-id`` and ``ecs-second-container-id``.
    p_empty_slot
        Probability that a multi-container task shows one container slot as '-'.
    p_stopped_container
        Probability that a multi-container task has a container that stops while the task runs
        (it keeps appearing in its slot).
    p_ecs_delay, ecs_delay_seconds
        Probability that a new task's first records lack ECS fields, and the mean delay until
        its ECS event arrives.
    """

    start: datetime = datetime(2024, 6, 3, tzinfo=UTC)
    aggregation_interval: int = 600
    account_id: str = "123456789012"
    region: str = "us-east-1"
    clusters: int = 3
    ec2_clusters: int = 1
    container_instances_per_cluster: int = 2
    services_per_cluster: int = 4
    public_services: int = 1
    min_tasks: int = 1
    max_tasks: int = 4
    max_containers: int = 3
    availability_zones: int = 3
    subnet_prefix_length: int = 24
    ec2_instances: int = 2
    load_balancer: bool = True
    idle_enis: int = 1
    deployments_per_day: float = 2.0
    scaling_events_per_day: float = 4.0
    task_failures_per_day: float = 0.2
    standalone_tasks_per_hour: float = 1.0
    standalone_task_minutes: float = 20.0
    max_standalone_tasks: int = 4
    calls_per_minute: float = 2.0
    lb_requests_per_minute: float = 3.0
    internet_clients_per_minute: float = 3.0
    internet_calls_per_minute: float = 0.3
    s3_calls_per_minute: float = 0.2
    ec2_calls_per_minute: float = 1.0
    rejected_per_minute: float = 0.1
    p_ping: float = 0.05
    p_long_connection: float = 0.05
    long_connection_minutes: float = 15.0
    request_bytes_mean: float = 600.0
    response_bytes_mean: float = 4000.0
    p_skipdata: float = 0.002
    p_order_swapped: float = 0.5
    p_empty_slot: float = 0.1
    p_stopped_container: float = 0.1
    p_ecs_delay: float = 0.2
    ecs_delay_seconds: float = 120.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.startswith("p_"):
                if not 0 <= value <= 1:
                    raise ValueError(f"{f.name} must be a probability in [0, 1], got {value}")
            elif f.type in ("float", "int") and not isinstance(value, bool) and value < 0:
                raise ValueError(f"{f.name} must not be negative, got {value}")
        if self.aggregation_interval not in (60, 600):
            raise ValueError(
                f"aggregation_interval must be 60 or 600 seconds, got {self.aggregation_interval}"
            )
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        for name in ("clusters", "services_per_cluster", "min_tasks", "availability_zones"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.ec2_clusters > self.clusters:
            raise ValueError(f"ec2_clusters ({self.ec2_clusters}) > clusters ({self.clusters})")
        if self.ec2_clusters and self.container_instances_per_cluster < 1:
            raise ValueError("EC2 clusters need container_instances_per_cluster >= 1")
        if self.public_services > self.clusters * self.services_per_cluster:
            raise ValueError("public_services exceeds the number of services")
        if self.min_tasks > self.max_tasks:
            raise ValueError(f"min_tasks ({self.min_tasks}) > max_tasks ({self.max_tasks})")
        if not 1 <= self.max_containers <= 3:
            raise ValueError(f"max_containers must be 1, 2 or 3, got {self.max_containers}")
        if not 16 <= self.subnet_prefix_length <= 28:
            raise ValueError(
                f"subnet_prefix_length must be in [16, 28] (AWS), got {self.subnet_prefix_length}"
            )
        if 2 * self.availability_zones > 2 ** (self.subnet_prefix_length - 16):
            raise ValueError("10.0.0.0/16 cannot hold two subnets per AZ at this prefix length")
        if not (len(self.account_id) == 12 and self.account_id.isdigit()):
            raise ValueError(f"account_id must be 12 digits, got {self.account_id!r}")
        self._check_capacity()

    def _check_capacity(self) -> None:
        # A rolling deployment runs old and new tasks side by side: twice the maximum.
        usable = self.availability_zones * usable_addresses(self.subnet_prefix_length)
        n_services = self.clusters * self.services_per_cluster
        private = (
            2 * self.max_tasks * (n_services - self.public_services)
            + self.max_standalone_tasks
            + self.ec2_instances
            + self.ec2_clusters * self.container_instances_per_cluster
            + self.idle_enis
        )
        public = 2 * self.max_tasks * self.public_services + 1 + self.availability_zones
        for name, need in (("private", private), ("public", public)):
            if need > usable:
                raise ValueError(
                    f"more tasks than subnet IPs: the {name} subnets need up to {need} "
                    f"addresses but hold {usable} usable ones ({self.availability_zones} "
                    f"x /{self.subnet_prefix_length}); lower max_tasks or subnet_prefix_length"
                )


# --------------------------------------------------------------------------------------------
# Deployment state


@dataclass
class _Eni:
    eni_id: str
    ip: int
    subnet: int
    kind: int
    instance_id: str | None
    started: int
    stopped: int | None = None
    task: int = -1


@dataclass
class _Cluster:
    name: str
    ec2: bool
    hosts: list[tuple[str, str, int]] = field(default_factory=list)  # (ci id, i- id, subnet)


@dataclass
class _Service:
    name: str
    cluster: int
    family: str
    revision: int
    containers: list[str]
    port: int
    public: bool
    downstream: list[int] = field(default_factory=list)
    desired: int = 1
    tasks: list[int] = field(default_factory=list)
    busy_until: int = 0


@dataclass
class _Task:
    task_id: str
    cluster: int
    service: int  # -1 for standalone
    family: str
    revision: int
    containers: list[str]
    runtime_ids: list[str]
    slots: tuple[int, int]  # container index per slot, -1 for '-'
    stopped_container: int  # container index that stops early, -1 if none
    stopped_container_at: int | None
    eni: int
    started: int
    stopped: int | None
    ecs_from: int
    host: int  # container-instance index in the cluster, -1 on Fargate
    port: int
    public: bool


@dataclass
class Window:
    """The records of one 5-minute delivery window, as arrays (one entry per record).

    ``eni`` indexes :attr:`Model.enis`; ``meta`` is the task whose ECS fields the record
    carries (-1: '-'); ``src_task``/``dst_task`` are the true tasks (-1: not a task);
    ``src_container`` indexes :attr:`Model.container_names` (-1: null); ``peer`` indexes
    :data:`PEER_KINDS`. Integer fields use -1 (ports, flags, action, direction) or 0
    (addresses, traffic path, aws service) for '-'.
    """

    start: int
    arrays: dict[str, np.ndarray]

    @property
    def size(self) -> int:
        return len(self.arrays["eni"])


class Model:
    """Mutable state of one simulation run; drive it with :func:`iter_windows`."""

    def __init__(self, params: SimulationParams, seed: int) -> None:
        self.p = params
        self.seed = seed
        self.rng = np.random.default_rng([seed, 0])
        self.interval = params.aggregation_interval
        t0 = int(params.start.timestamp())
        self.t0 = t0 - t0 % max(self.interval, WINDOW_SECONDS)
        rng = self.rng
        self.vpc_id = "vpc-" + _hex(rng, 17)
        self.flow_log_id = "fl-" + _hex(rng, 17)
        area, *direction, number = params.region.split("-")
        az_prefix = area + "".join(_DIRECTIONS.get(d, d[:1]) for d in direction) + number
        nets = list(
            ipaddress.ip_network("10.0.0.0/16").subnets(new_prefix=params.subnet_prefix_length)
        )
        n_az = params.availability_zones
        # subnets 0..n_az-1 private, n_az..2n_az-1 public; AZ of subnet i is i % n_az
        self.subnets = [
            (
                "subnet-" + _hex(rng, 17),
                f"{az_prefix}-az{(i % n_az) + 1}",
                nets[i if i < n_az else len(nets) // 2 + i - n_az],
            )
            for i in range(2 * n_az)
        ]
        # AWS reserves the first four addresses and the last one of every subnet.
        self.free = [[int(a) for a in list(net.hosts())[3:-1]] for _, _, net in self.subnets]
        self.pending_release: list[tuple[int, int, int]] = []  # (time, subnet, ip)
        self.enis: list[_Eni] = []
        self.tasks: list[_Task] = []
        self.container_names: list[str] = []
        self._name_index: dict[str, int] = {}
        self.api_ips = np.array(
            [int(ipaddress.ip_network(n)[int(rng.integers(1, 255))]) for n in _API_NETS * 3],
            dtype=np.uint32,
        )
        s3 = ipaddress.ip_network(_S3_NET)
        self.s3_ips = np.array(
            [int(s3[int(rng.integers(1, s3.num_addresses - 1))]) for _ in range(6)],
            dtype=np.uint32,
        )
        self.eph_next: dict[int, int] = {}
        self._build(t0=self.t0)

    # -- building ------------------------------------------------------------------------

    def _name(self, name: str) -> int:
        if name not in self._name_index:
            self._name_index[name] = len(self.container_names)
            self.container_names.append(name)
        return self._name_index[name]

    def _alloc_ip(self, subnet_group: int, t: int) -> tuple[int, int]:
        """Take a free IP of a private (0) or public (1) subnet; released IPs come back."""
        still = []
        for rel in self.pending_release:
            if rel[0] <= t:
                self.free[rel[1]].append(rel[2])
            else:
                still.append(rel)
        self.pending_release = still
        n_az = self.p.availability_zones
        group = range(n_az) if subnet_group == 0 else range(n_az, 2 * n_az)
        candidates = [s for s in group if self.free[s]]
        if not candidates:
            raise RuntimeError(
                "more tasks than subnet IPs: no free address left; raise subnet size "
                "(lower subnet_prefix_length) or lower max_tasks"
            )
        s = candidates[int(self.rng.integers(len(candidates)))]
        pool = self.free[s]
        i = int(self.rng.integers(len(pool)))
        pool[i], pool[-1] = pool[-1], pool[i]
        return s, pool.pop()

    def _new_eni(self, kind: int, subnet_group: int, t: int, instance_id: str | None) -> int:
        s, ip = self._alloc_ip(subnet_group, t)
        self.enis.append(_Eni("eni-" + _hex(self.rng, 17), ip, s, kind, instance_id, t))
        return len(self.enis) - 1

    def _fixed_eni(self, kind: int, subnet: int, instance_id: str | None) -> int:
        pool = self.free[subnet]
        i = int(self.rng.integers(len(pool)))
        pool[i], pool[-1] = pool[-1], pool[i]
        self.enis.append(
            _Eni("eni-" + _hex(self.rng, 17), pool.pop(), subnet, kind, instance_id, self.t0)
        )
        return len(self.enis) - 1

    def _build(self, *, t0: int) -> None:
        p, rng = self.p, self.rng
        n_az = p.availability_zones
        self.clusters = [
            _Cluster(
                f"{_CLUSTER_NAMES[i % len(_CLUSTER_NAMES)]}-{i // len(_CLUSTER_NAMES) + 1}"
                if i >= len(_CLUSTER_NAMES)
                else _CLUSTER_NAMES[i],
                ec2=i >= p.clusters - p.ec2_clusters,
            )
            for i in range(p.clusters)
        ]
        self.nat = self._fixed_eni(KIND_NAT, n_az, None)
        self.lb_enis = (
            [self._fixed_eni(KIND_LB, n_az + a, None) for a in range(n_az)]
            if p.load_balancer
            else []
        )
        for c in self.clusters:
            for k in range(p.container_instances_per_cluster if c.ec2 else 0):
                iid = "i-" + _hex(rng, 17)
                host = self._fixed_eni(KIND_HOST, k % n_az, iid)
                c.hosts.append((_hex(rng, 32), iid, host))
        self.ec2 = [
            self._fixed_eni(KIND_EC2, k % n_az, "i-" + _hex(rng, 17))
            for k in range(p.ec2_instances)
        ]
        self.idle = [self._fixed_eni(KIND_IDLE, k % n_az, None) for k in range(p.idle_enis)]

        n_services = p.clusters * p.services_per_cluster
        public = set(rng.choice(n_services, size=p.public_services, replace=False).tolist())
        self.services: list[_Service] = []
        for i in range(n_services):
            cluster = i // p.services_per_cluster
            base = _SERVICE_NAMES[i % len(_SERVICE_NAMES)]
            name = base if i < len(_SERVICE_NAMES) else f"{base}-{i // len(_SERVICE_NAMES)}"
            n_containers = int(rng.integers(1, p.max_containers + 1))
            containers = [name, *_SIDECARS[: n_containers - 1]]
            for cname in containers:
                self._name(cname)
            self.services.append(
                _Service(
                    name=name,
                    cluster=cluster,
                    family=f"{self.clusters[cluster].name}-{name}",
                    revision=int(rng.integers(1, 30)),
                    containers=containers,
                    port=8080 if i % 3 else 80,
                    public=i in public,
                    desired=int(rng.integers(p.min_tasks, p.max_tasks + 1)),
                )
            )
        # Each service calls up to two services later in the list: a DAG, frontends first.
        for i, s in enumerate(self.services):
            later = list(range(i + 1, n_services))
            k = min(len(later), int(rng.integers(0, 3)))
            s.downstream = sorted(rng.choice(later, size=k, replace=False).tolist()) if k else []
        self.frontends = [c * p.services_per_cluster for c in range(p.clusters)]
        for _, job in enumerate(_JOBS):
            self._name(job)
        # Tasks already running when the simulation (and the flow log) starts.
        for si, s in enumerate(self.services):
            for _ in range(s.desired):
                started = t0 - int(rng.integers(600, 3 * 86400))
                s.tasks.append(self._start_task(si, started, fresh=False))

    def _start_task(self, service: int, t: int, *, fresh: bool, job: str | None = None) -> int:
        p, rng = self.p, self.rng
        if service >= 0:
            s = self.services[service]
            cluster, family, revision = s.cluster, s.family, s.revision
            containers, port, public = s.containers, s.port, s.public
        else:
            cluster = int(rng.integers(p.clusters))
            family = f"{self.clusters[cluster].name}-{job}"
            revision = 1 + zlib.crc32(family.encode()) % 9
            containers, port, public = [job or _JOBS[0]], 8080, False
        c = self.clusters[cluster]
        task_id = _hex(rng, 32)
        host = int(rng.integers(len(c.hosts))) if c.ec2 else -1
        instance_id = c.hosts[host][1] if c.ec2 else None
        eni = self._new_eni(KIND_TASK, 1 if public else 0, t, instance_id)
        if c.ec2:
            runtime_ids = [_hex(rng, 64) for _ in containers]
        else:
            # The number after the task id follows the container name (finding 5).
            runtime_ids = [f"{task_id}-{zlib.crc32(n.encode())}" for n in containers]
        n = len(containers)
        order = list(range(n))
        if n > 1 and rng.random() < p.p_order_swapped:
            order.reverse()
        slots = [order[0], order[1] if n > 1 else -1]
        if n > 1 and rng.random() < p.p_empty_slot:
            slots[int(rng.integers(2))] = -1
        stopped_container, stopped_at = -1, None
        if n > 1 and rng.random() < p.p_stopped_container:
            # A sidecar shown in a slot, so that its stale id keeps appearing (AWS's caveat).
            shown = [k for k in slots if k > 0] or list(range(1, n))
            stopped_container = shown[int(rng.integers(len(shown)))]
            stopped_at = t + int(rng.integers(5, 120))
        delay = 0
        if fresh and rng.random() < p.p_ecs_delay:
            delay = 1 + int(rng.exponential(p.ecs_delay_seconds))
        self.tasks.append(
            _Task(
                task_id=task_id,
                cluster=cluster,
                service=service,
                family=family,
                revision=revision,
                containers=list(containers),
                runtime_ids=runtime_ids,
                slots=(slots[0], slots[1]),
                stopped_container=stopped_container,
                stopped_container_at=stopped_at,
                eni=eni,
                started=t,
                stopped=None,
                ecs_from=t + delay,
                host=host,
                port=port,
                public=public,
            )
        )
        self.enis[eni].task = len(self.tasks) - 1
        return len(self.tasks) - 1

    def _stop_task(self, task: int, t: int) -> None:
        tk = self.tasks[task]
        if tk.stopped is not None:
            return
        tk.stopped = t
        eni = self.enis[tk.eni]
        eni.stopped = t
        self.pending_release.append((t, eni.subnet, eni.ip))

    # -- lifecycle -----------------------------------------------------------------------

    def lifecycle(self, c0: int, c1: int) -> None:
        """Apply the deployments, scaling, failures and standalone tasks of ``[c0, c1)``."""
        p, rng = self.p, self.rng
        span_days = (c1 - c0) / 86400
        events: list[tuple[int, int, int]] = []  # (time, kind, service)
        for si in range(len(self.services)):
            for kind, rate in (
                (0, p.deployments_per_day),
                (1, p.scaling_events_per_day),
                (2, p.task_failures_per_day * self.services[si].desired),
            ):
                for _ in range(rng.poisson(rate * span_days)):
                    events.append((int(rng.integers(c0, c1)), kind, si))
        for _ in range(rng.poisson(p.standalone_tasks_per_hour * (c1 - c0) / 3600)):
            events.append((int(rng.integers(c0, c1)), 3, -1))
        for t, kind, si in sorted(events):
            if kind == 3:
                running = sum(
                    1 for tk in self.tasks if tk.service < 0 and (tk.stopped or c1 + 1) > t
                )
                if running < p.max_standalone_tasks:
                    job = _JOBS[int(rng.integers(len(_JOBS)))]
                    tid = self._start_task(-1, t, fresh=True, job=job)
                    runtime = 60 + int(rng.exponential(p.standalone_task_minutes * 60))
                    self._stop_task(tid, t + runtime)
                continue
            s = self.services[si]
            if t < s.busy_until:
                continue  # one change at a time, as an ECS deployment would
            if kind == 0:
                s.revision += 1
                old, s.tasks = s.tasks, []
                for _ in old:
                    s.tasks.append(self._start_task(si, t + int(rng.integers(0, 30)), fresh=True))
                for tid in old:
                    self._stop_task(tid, t + int(rng.integers(60, 240)))
                s.busy_until = t + 240
            elif kind == 1:
                up = rng.random() < 0.5
                if up and s.desired < p.max_tasks:
                    s.desired += 1
                    s.tasks.append(self._start_task(si, t, fresh=True))
                elif not up and s.desired > p.min_tasks:
                    s.desired -= 1
                    self._stop_task(s.tasks.pop(int(rng.integers(len(s.tasks)))), t)
                s.busy_until = t + 60
            elif s.tasks:
                victim = s.tasks.pop(int(rng.integers(len(s.tasks))))
                self._stop_task(victim, t)
                s.tasks.append(self._start_task(si, t + int(rng.integers(20, 90)), fresh=True))
                s.busy_until = t + 90

    # -- traffic -------------------------------------------------------------------------

    def _ephemeral(self, client_eni: np.ndarray) -> np.ndarray:
        """Distinct ephemeral ports per client ENI, cycling like a kernel's port allocator."""
        out = np.empty(len(client_eni), dtype=np.int64)
        if not len(client_eni):
            return out
        order = np.argsort(client_eni, kind="stable")
        sorted_eni = client_eni[order]
        starts = np.flatnonzero(np.r_[True, sorted_eni[1:] != sorted_eni[:-1]])
        counts = np.diff(np.r_[starts, len(sorted_eni)])
        rank = np.arange(len(sorted_eni)) - np.repeat(starts, counts)
        lo, hi = EPHEMERAL
        width = hi - lo + 1
        base = np.empty(len(sorted_eni), dtype=np.int64)
        for st, cnt in zip(starts.tolist(), counts.tolist(), strict=True):
            e = int(sorted_eni[st])
            b = self.eph_next.get(e)
            if b is None:
                b = int(self.rng.integers(width))
            base[st : st + cnt] = b
            self.eph_next[e] = (b + cnt) % width
        out[order] = lo + (base + rank) % width
        return out

    def connections(self, c0: int, c1: int) -> dict[str, np.ndarray]:
        """The connections opened in ``[c0, c1)``, with their routes and payloads."""
        p, rng = self.p, self.rng
        active = [
            i
            for i, tk in enumerate(self.tasks)
            if tk.started < c1 and (tk.stopped is None or tk.stopped > c0)
        ]
        span = {
            i: (max(c0, self.tasks[i].started), min(c1, self.tasks[i].stopped or c1))
            for i in active
        }
        by_service: dict[int, list[int]] = {}
        for i in active:
            by_service.setdefault(self.tasks[i].service, []).append(i)

        parts: list[dict[str, np.ndarray]] = []

        def add(
            route,
            client_eni,
            server_eni,
            server_ip,
            dport,
            proto,
            t,
            *,
            client_c=None,
            server_c=None,
            reject=False,
        ):
            n = len(t)
            if not n:
                return
            parts.append(
                {
                    "route": np.full(n, route, np.int8),
                    "client_eni": np.asarray(client_eni, np.int64) * np.ones(n, np.int64),
                    "server_eni": np.asarray(server_eni, np.int64) * np.ones(n, np.int64),
                    "server_ip": np.asarray(server_ip, np.int64) * np.ones(n, np.int64),
                    "dport": np.asarray(dport, np.int64) * np.ones(n, np.int64),
                    "proto": np.full(n, proto, np.int64),
                    "t0": np.asarray(t, np.int64),
                    "client_c": np.full(n, -1, np.int64) if client_c is None else client_c,
                    "server_c": np.full(n, -1, np.int64) if server_c is None else server_c,
                    "reject": np.full(n, reject, bool),
                }
            )

        def times(lo: int, hi: int, rate: float) -> np.ndarray:
            n = rng.poisson(rate * max(hi - lo, 0) / 60)
            return np.sort(rng.integers(lo, hi, size=n)) if n else np.empty(0, np.int64)

        def sender(task: int, n: int) -> np.ndarray:
            # Any running container may send; a container that stopped early does not.
            tk = self.tasks[task]
            names = [
                self._name_index[c]
                for k, c in enumerate(tk.containers)
                if k != tk.stopped_container
            ]
            return np.asarray(names, np.int64)[rng.integers(len(names), size=n)]

        def pick_server(candidates: list[int], t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            cand = np.asarray(candidates, np.int64)
            pick = cand[rng.integers(len(cand), size=len(t))]
            lo = np.array([span[i][0] for i in candidates])[np.searchsorted(cand, pick)]
            hi = np.array([span[i][1] for i in candidates])[np.searchsorted(cand, pick)]
            ok = (t >= lo) & (t < hi)
            return pick, ok

        def task_arr(tids: np.ndarray, attr: str) -> np.ndarray:
            return np.array([getattr(self.tasks[i], attr) for i in tids.tolist()], np.int64)

        for i in active:
            tk = self.tasks[i]
            lo, hi = span[i]
            own = self._name_index[tk.containers[0]]
            # service-to-service calls
            downstream = self.services[tk.service].downstream if tk.service >= 0 else []
            if tk.service < 0 and self.frontends:
                downstream = [self.frontends[tk.cluster % len(self.frontends)] + 1]
                downstream = [d for d in downstream if d < len(self.services)]
            for d in downstream:
                t = times(lo, hi, p.calls_per_minute)
                cands = sorted(by_service.get(d, []))
                if not len(t) or not cands:
                    continue
                srv, ok = pick_server(cands, t)
                t, srv = t[ok], srv[ok]
                add(
                    0,
                    tk.eni,
                    task_arr(srv, "eni"),
                    0,
                    task_arr(srv, "port"),
                    6,
                    t,
                    client_c=sender(i, len(t)),
                    server_c=np.array(
                        [self._name_index[self.tasks[j].containers[0]] for j in srv.tolist()],
                        np.int64,
                    ),
                )
            # internet (through the NAT gateway or the internet gateway) and S3
            t = times(lo, hi, p.internet_calls_per_minute)
            add(
                1 if tk.public else 2,
                tk.eni,
                -1,
                self.api_ips[rng.integers(len(self.api_ips), size=len(t))],
                443,
                6,
                t,
                client_c=sender(i, len(t)),
            )
            t = times(lo, hi, p.s3_calls_per_minute)
            add(
                3,
                tk.eni,
                -1,
                self.s3_ips[rng.integers(len(self.s3_ips), size=len(t))],
                443,
                6,
                t,
                client_c=sender(i, len(t)),
            )
            if tk.public:
                # ICMP is one flow per interval whatever the number of pings.
                for k in range(lo // self.interval, -(-hi // self.interval)):
                    if rng.random() < p.p_ping:
                        a, b = max(lo, k * self.interval), min(hi, (k + 1) * self.interval)
                        add(
                            1,
                            tk.eni,
                            -1,
                            _PING_TARGET,
                            0,
                            1,
                            np.array([rng.integers(a, b)]),
                            client_c=sender(i, 1),
                        )
            # load balancer to the tasks of each cluster's first service
            if self.lb_enis and tk.service in self.frontends:
                t = times(lo, hi, p.lb_requests_per_minute)
                lb = np.asarray(self.lb_enis)[rng.integers(len(self.lb_enis), size=len(t))]
                add(0, lb, tk.eni, 0, tk.port, 6, t, server_c=np.full(len(t), own))
        for lb in self.lb_enis:
            t = times(c0, c1, p.internet_clients_per_minute)
            clients = np.asarray(_CLIENT_FIRST_OCTETS, np.int64)[
                rng.integers(len(_CLIENT_FIRST_OCTETS), size=len(t))
            ] << 24 | rng.integers(1, 2**24 - 1, size=len(t))
            part_start = len(parts)
            add(4, -1, lb, 0, 443, 6, t)
            if len(parts) > part_start:
                parts[-1]["client_ip"] = clients
        service_tasks = sorted(i for i in active if self.tasks[i].service >= 0)
        for e in self.ec2:
            for s in range(len(self.services)):
                t = times(c0, c1, p.ec2_calls_per_minute / len(self.services))
                cands = sorted(by_service.get(s, []))
                if not len(t) or not cands:
                    continue
                srv, ok = pick_server(cands, t)
                t, srv = t[ok], srv[ok]
                add(
                    0,
                    e,
                    task_arr(srv, "eni"),
                    0,
                    task_arr(srv, "port"),
                    6,
                    t,
                    server_c=np.array(
                        [self._name_index[self.tasks[j].containers[0]] for j in srv.tolist()],
                        np.int64,
                    ),
                )
            t = times(c0, c1, p.rejected_per_minute)
            if len(t) and service_tasks:
                srv, ok = pick_server(service_tasks, t)
                t, srv = t[ok], srv[ok]
                add(0, e, task_arr(srv, "eni"), 0, 22, 6, t, reject=True)

        if not parts:
            return {}
        conn = {k: np.concatenate([q[k] for q in parts]) for k in parts[0] if k != "client_ip"}
        client_ip = np.concatenate(
            [q.get("client_ip", np.zeros(len(q["t0"]), np.int64)) for q in parts]
        )
        eni_ip = np.array([e.ip for e in self.enis], np.int64)
        eni_stop = np.array([e.stopped if e.stopped is not None else 2**62 for e in self.enis])
        has_client = conn["client_eni"] >= 0
        client_ip[has_client] = eni_ip[conn["client_eni"][has_client]]
        has_server = conn["server_eni"] >= 0
        conn["server_ip"][has_server] = eni_ip[conn["server_eni"][has_server]]
        conn["client_ip"] = client_ip
        n = len(conn["t0"])
        # Client ports: the kernel's for ENIs we model, random for internet clients.
        sport = rng.integers(EPHEMERAL[0], EPHEMERAL[1] + 1, size=n)
        sport[has_client] = self._ephemeral(conn["client_eni"][has_client])
        icmp = conn["proto"] == 1
        sport[icmp] = 0
        conn["sport"] = sport
        nat = conn["route"] == 2
        conn["nat_port"] = np.zeros(n, np.int64)
        conn["nat_port"][nat & ~icmp] = self._ephemeral(np.full(int((nat & ~icmp).sum()), self.nat))
        # Durations: most connections are short; some stay open across intervals.
        long = (rng.random(n) < p.p_long_connection) & (conn["proto"] == 6) & ~conn["reject"]
        dur = rng.exponential(1.5, size=n)
        dur[long] = rng.exponential(p.long_connection_minutes * 60, size=int(long.sum()))
        dur[conn["reject"]] = rng.integers(0, 4, size=int(conn["reject"].sum()))
        t1 = conn["t0"] + dur.astype(np.int64)
        end_limit = np.full(n, 2**62, np.int64)
        end_limit[has_client] = eni_stop[conn["client_eni"][has_client]] - 1
        end_limit[has_server] = np.minimum(
            end_limit[has_server], eni_stop[conn["server_eni"][has_server]] - 1
        )
        conn["t1"] = np.maximum(conn["t0"], np.minimum(t1, end_limit))
        req = 1 + rng.exponential(p.request_bytes_mean, size=n)
        resp = 1 + rng.exponential(p.response_bytes_mean, size=n)
        scale = np.maximum(1.0, (conn["t1"] - conn["t0"]) / 60.0)  # long ones carry more
        conn["req_bytes"] = (req * scale).astype(np.int64)
        conn["resp_bytes"] = (resp * scale).astype(np.int64)
        conn["resp_bytes"][conn["reject"]] = 0
        return conn


# Legs of a connection: which ENI records it, direction, addresses and ports.
# c = client, s = server, n = NAT gateway; "x2y" = packets from x to y.
_LEGS = {
    0: (  # both ends are ENIs of the VPC
        ("c", EGRESS, "c", "s", "c", "s", "c2s", 1),
        ("s", INGRESS, "c", "s", "c", "s", "c2s", 0),
        ("s", EGRESS, "s", "c", "s", "c", "s2c", 1),
        ("c", INGRESS, "s", "c", "s", "c", "s2c", 0),
    ),
    1: (  # to the internet through the internet gateway
        ("c", EGRESS, "c", "s", "c", "s", "c2s", 8),
        ("c", INGRESS, "s", "c", "s", "c", "s2c", 0),
    ),
    2: (  # to the internet through the NAT gateway (pkt-dstaddr differs on its ENI)
        ("c", EGRESS, "c", "s", "c", "s", "c2s", 1),
        ("n", INGRESS, "c", "n", "c", "s", "c2s", 0),
        ("n", EGRESS, "n", "s", "n", "s", "c2s", 8),
        ("n", INGRESS, "s", "n", "s", "n", "s2c", 0),
        ("n", EGRESS, "n", "c", "s", "c", "s2c", 1),
        ("c", INGRESS, "s", "c", "s", "c", "s2c", 0),
    ),
    3: (  # to S3 through a gateway endpoint
        ("c", EGRESS, "c", "s", "c", "s", "c2s", 7),
        ("c", INGRESS, "s", "c", "s", "c", "s2c", 0),
    ),
    4: (  # internet clients to the load balancer (recorded on its ENI only)
        ("s", INGRESS, "c", "s", "c", "s", "c2s", 0),
        ("s", EGRESS, "s", "c", "s", "c", "s2c", 8),
    ),
}


def _pieces(conn: dict[str, np.ndarray], interval: int) -> dict[str, np.ndarray]:
    """Split each connection into one piece per aggregation interval it spans."""
    i0 = conn["t0"] // interval
    i1 = conn["t1"] // interval
    n_int = i1 - i0 + 1
    idx = np.repeat(np.arange(len(i0)), n_int)
    k = np.arange(len(idx)) - np.repeat(np.cumsum(n_int) - n_int, n_int)
    out = {key: v[idx] for key, v in conn.items()}
    iv = i0[idx] + k
    out["interval"] = iv
    out["start"] = np.maximum(out["t0"], iv * interval)
    out["end"] = np.minimum(out["t1"], (iv + 1) * interval - 1)
    out["first"] = k == 0
    out["last"] = iv == i1[idx]
    share = (out["end"] - out["start"] + 1) / (out["t1"] - out["t0"] + 1)
    out["req_bytes"] = np.maximum(1, (out["req_bytes"] * share).astype(np.int64))
    out["resp_bytes"] = np.maximum(1, (out["resp_bytes"] * share).astype(np.int64))
    return out


def _legs(pc: dict[str, np.ndarray], model: Model) -> dict[str, np.ndarray]:
    """One record per piece and leg (before SKIPDATA and NODATA)."""
    nat_ip = model.enis[model.nat].ip
    out: dict[str, list[np.ndarray]] = {}
    for route, legs in _LEGS.items():
        m = pc["route"] == route
        if not m.any():
            continue
        q = {k: v[m] for k, v in pc.items()}
        n = int(m.sum())
        reject = q["reject"]
        eni = {"c": q["client_eni"], "s": q["server_eni"], "n": np.full(n, model.nat)}
        ip = {"c": q["client_ip"], "s": q["server_ip"], "n": np.full(n, nat_ip)}
        for rec, direction, src, dst, psrc, pdst, way, path in legs:
            keep = ~reject if way == "s2c" else np.ones(n, bool)
            if not keep.any():
                continue
            c2s = way == "c2s"
            client_port = (
                q["nat_port"] if "n" in (src, dst) and (src == "s" or dst == "s") else q["sport"]
            )
            sport = client_port if c2s else q["dport"]
            dport = q["dport"] if c2s else client_port
            tcp = q["proto"] == 6
            flags = np.where(q["first"], 2 if c2s else 18, 0) | np.where(q["last"], 1, 0)
            flags = np.where(reject, 2, flags)
            flags = np.where(tcp, flags, 0)
            nbytes = q["req_bytes"] if c2s else q["resp_bytes"]
            packets = np.maximum(1, nbytes // 1200 + np.where(q["first"] | q["last"], 2, 1))
            nbytes = nbytes + packets * 40
            action = np.where(reject & (direction == INGRESS), REJECT, ACCEPT)
            cols = {
                "eni": eni[rec],
                "direction": np.full(n, direction),
                "src_ip": ip[src],
                "dst_ip": ip[dst],
                "pkt_src_ip": ip[psrc],
                "pkt_dst_ip": ip[pdst],
                "srcport": sport,
                "dstport": dport,
                "protocol": q["proto"],
                "packets": packets,
                "bytes": nbytes,
                "start": q["start"],
                "end": q["end"],
                "interval": q["interval"],
                "action": action,
                "tcp_flags": flags,
                "traffic_path": np.full(n, path),
                "pkt_src_svc": np.full(n, 1 if (route == 3 and psrc == "s") else 0),
                "pkt_dst_svc": np.full(n, 1 if (route == 3 and pdst == "s") else 0),
                "src_eni": eni[src] if src != "s" or route not in (1, 2, 3) else np.full(n, -1),
                "dst_eni": eni[dst] if dst != "s" or route not in (1, 2, 3) else np.full(n, -1),
                "src_container": q["client_c"] if c2s else q["server_c"],
                "public_kind": np.full(n, 3 if route == 3 else 2),
            }
            if route == 4:  # the client is an internet host, not an ENI
                if src == "c":
                    cols["src_eni"] = np.full(n, -1)
                if dst == "c":
                    cols["dst_eni"] = np.full(n, -1)
            for k, v in cols.items():
                out.setdefault(k, []).append(np.asarray(v)[keep])
    return {k: np.concatenate(v) for k, v in out.items()}


def _empty_records() -> dict[str, np.ndarray]:
    keys = [
        "eni",
        "direction",
        "src_ip",
        "dst_ip",
        "pkt_src_ip",
        "pkt_dst_ip",
        "srcport",
        "dstport",
        "protocol",
        "packets",
        "bytes",
        "start",
        "end",
        "interval",
        "action",
        "tcp_flags",
        "traffic_path",
        "pkt_src_svc",
        "pkt_dst_svc",
        "src_eni",
        "dst_eni",
        "src_container",
        "public_kind",
        "status",
    ]
    return {k: np.empty(0, np.int64) for k in keys}


def _status_rows(enis: np.ndarray, interval: np.ndarray, start, end, status) -> dict:
    n = len(enis)
    rows = _empty_records()
    for k in rows:
        rows[k] = np.full(n, -1, np.int64)
    for k in ("src_ip", "dst_ip", "pkt_src_ip", "pkt_dst_ip", "traffic_path"):
        rows[k] = np.zeros(n, np.int64)
    rows.update(
        eni=enis,
        interval=interval,
        start=start,
        end=end,
        status=np.full(n, status, np.int64),
        pkt_src_svc=np.zeros(n, np.int64),
        pkt_dst_svc=np.zeros(n, np.int64),
    )
    return rows


def _concat(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([a[k].astype(np.int64), b[k].astype(np.int64)]) for k in a}


def _take(a: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[mask] for k, v in a.items()}


RECORD_KEY = ("eni", "start", "src_ip", "dst_ip", "srcport", "dstport", "protocol")


def _dedupe(rec: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Keep one record per (ENI, start, 5-tuple), as AWS aggregates a flow per interval.

    Collisions are rare (an internet client reusing a port in the same second); dropping them
    keeps the ground truth's join key unique.
    """
    if len(rec["eni"]) < 2:
        return rec
    order = np.lexsort(tuple(rec[k] for k in reversed(RECORD_KEY)))
    same = np.ones(len(order) - 1, bool)
    for k in RECORD_KEY:
        col = rec[k][order]
        same &= col[1:] == col[:-1]
    if not same.any():
        return rec
    keep = np.ones(len(order), bool)
    keep[order[1:][same]] = False
    return _take(rec, keep)


def _finish_intervals(
    model: Model, rec: dict[str, np.ndarray], c0: int, c1: int
) -> dict[str, np.ndarray]:
    """Apply SKIPDATA and add NODATA for the intervals of ``[c0, c1)``; derive truth codes."""
    rng, interval = model.rng, model.interval
    ivs = np.arange(c0 // interval, c1 // interval)
    rec = _dedupe(dict(rec, status=np.zeros(len(rec["eni"]), np.int64)))
    key = rec["eni"] * (2**32) + rec["interval"]
    # SKIPDATA: one draw per (ENI, interval) that has records.
    uniq, inverse = np.unique(key, return_inverse=True)
    skipped = rng.random(len(uniq)) < model.p.p_skipdata
    if skipped.any():
        drop = skipped[inverse]
        lost = _take(rec, drop)
        rec = _take(rec, ~drop)
        sk = np.flatnonzero(skipped)
        lo = np.full(len(uniq), 2**62)
        hi = np.zeros(len(uniq), np.int64)
        np.minimum.at(lo, inverse[drop], lost["start"])
        np.maximum.at(hi, inverse[drop], lost["end"])
        rec = _concat(
            rec,
            _status_rows(uniq[sk] // 2**32, uniq[sk] % 2**32, lo[sk], hi[sk], SKIPDATA),
        )
    # NODATA: every ENI that exists during an interval and recorded nothing in it.
    started = np.array([e.started for e in model.enis], np.int64)
    stopped = np.array([e.stopped if e.stopped is not None else 2**62 for e in model.enis])
    busy = set((rec["eni"] * (2**32) + rec["interval"]).tolist())
    quiet_eni, quiet_iv, quiet_lo, quiet_hi = [], [], [], []
    for iv in ivs.tolist():
        a, b = iv * interval, (iv + 1) * interval
        alive = np.flatnonzero((started < b) & (stopped > a))
        for e in alive.tolist():
            if e * 2**32 + iv not in busy:
                quiet_eni.append(e)
                quiet_iv.append(iv)
                quiet_lo.append(max(a, int(started[e])))
                quiet_hi.append(min(b - 1, int(stopped[e]) - 1))
    if quiet_eni:
        rec = _concat(
            rec,
            _status_rows(
                np.array(quiet_eni),
                np.array(quiet_iv),
                np.array(quiet_lo),
                np.array(quiet_hi),
                NODATA,
            ),
        )
    # ECS fields: the recording ENI's task, once its ECS event has arrived; OK records only.
    eni_task = np.array([e.task for e in model.enis], np.int64)
    ecs_from = np.array([t.ecs_from for t in model.tasks], np.int64)
    task = eni_task[rec["eni"]]
    is_task = task >= 0
    meta = np.full(len(task), -1, np.int64)
    ok = is_task & (rec["status"] == OK)
    meta[ok] = np.where(rec["start"][ok] >= ecs_from[task[ok]], task[ok], -1)
    rec["meta"] = meta
    rec["rec_task"] = task
    rec["src_task"] = np.where(rec["src_eni"] >= 0, eni_task[np.maximum(rec["src_eni"], 0)], -1)
    rec["dst_task"] = np.where(rec["dst_eni"] >= 0, eni_task[np.maximum(rec["dst_eni"], 0)], -1)
    rec["src_container"] = np.where(rec["src_task"] >= 0, rec["src_container"], -1)
    other = np.where(rec["direction"] == EGRESS, rec["dst_eni"], rec["src_eni"])
    other_task = np.where(other >= 0, eni_task[np.maximum(other, 0)], -1)
    peer = np.where(other_task >= 0, 0, np.where(other >= 0, 1, rec["public_kind"]))
    rec["peer"] = np.where(rec["status"] == OK, peer, -1)
    return rec


def iter_windows(model: Model) -> Iterator[Window]:
    """Run the model forever, yielding complete 5-minute windows in time order.

    The caller stops iterating when it has enough records; memory holds one chunk (one
    aggregation interval, at least five minutes) plus the pieces of long connections that
    reach into later intervals.
    """
    chunk = max(model.interval, WINDOW_SECONDS)
    c0 = model.t0
    carry = _empty_records()
    carry.pop("status")
    while True:
        c1 = c0 + chunk
        model.lifecycle(c0, c1)
        carry = _clip_to_lifetimes(carry, model)
        conn = model.connections(c0, c1)
        if conn:
            rec = _legs(_pieces(conn, model.interval), model)
            rec = {k: np.concatenate([carry[k], v.astype(np.int64)]) for k, v in rec.items()}
        else:
            rec = carry
        later = rec["interval"] * model.interval >= c1
        carry = _take(rec, later)
        rec = _finish_intervals(model, _take(rec, ~later), c0, c1)
        window = rec["end"] // WINDOW_SECONDS
        order = np.lexsort((rec["eni"], rec["start"], window))
        rec = _take(rec, order)
        window = window[order]
        for w in range(c0 // WINDOW_SECONDS, c1 // WINDOW_SECONDS):
            lo, hi = np.searchsorted(window, [w, w + 1])
            yield Window(w * WINDOW_SECONDS, {k: v[lo:hi] for k, v in rec.items()})
        c0 = c1


def _clip_to_lifetimes(rec: dict[str, np.ndarray], model: Model) -> dict[str, np.ndarray]:
    """Cut carried pieces of long connections at the stop of any ENI they involve.

    A connection is generated while its ENIs live, but a stop decided in a later chunk
    must end it too: a deleted ENI records nothing, and its IP may already serve another task.
    """
    if not len(rec["eni"]):
        return rec
    stops = np.array([e.stopped if e.stopped is not None else 2**62 for e in model.enis])
    limit = np.full(len(rec["eni"]), 2**62, np.int64)
    for col in ("eni", "src_eni", "dst_eni"):
        idx = rec[col]
        ok = idx >= 0
        limit[ok] = np.minimum(limit[ok], stops[idx[ok]])
    keep = rec["start"] < limit
    rec = _take(rec, keep)
    rec["end"] = np.minimum(rec["end"], limit[keep] - 1)
    return rec


def _hex(rng: np.random.Generator, n: int) -> str:
    return "".join(f"{b:02x}" for b in rng.integers(0, 256, size=(n + 1) // 2).tolist())[:n]


def usable_addresses(prefix_length: int) -> int:
    """Addresses AWS lets you use in a subnet: all but five.

    >>> usable_addresses(24)
    251
    """
    return 2 ** (32 - prefix_length) - 5
