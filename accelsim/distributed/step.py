"""One training iteration on a cluster: ``train_distributed(model, cluster)`` -> ``DistributedStep``.

The one-device step (``accelsim.training``) is costed once, at the micro-batch a device
runs, and folded onto the forward layers (``profile``). The parallel schedules then work on
those per-layer times, so a whole scaling sweep costs one step:

1. tensor parallelism divides the matrix layers over ``tensor`` devices and adds the
   activation allreduces of every row-parallel layer (Megatron-LM: Shoeybi et al. 2019);
2. pipeline parallelism cuts the layers into stages and runs the micro-batches through them
   (``pipeline``), with the activations sent between stages;
3. data parallelism reduces each stage's gradients across replicas, in buckets that leave
   while the backward pass goes on (``overlap``), compressed or not (``compression``), by
   allreduce or parameter server (``collectives``);
4. the consistency model decides who waits for whom: BSP waits for the slowest replica,
   ASP and SSP run an event simulation of the replicas against the parameter server
   (``accelsim.kernels.eventsim``), with stragglers drawn from ``--stragglers``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import MappingError, SpecError
from ..ir import Graph
from ..training.step import TrainStep, train
from .cluster import ClusterSpec, load_cluster
from .collectives import COMM_ALGORITHMS, Comm, allreduce, best_algorithm, point_to_point, ps_exchange
from .compression import compression
from .layout import Parallelism, group_of
from .overlap import DEFAULT_BUCKET_BYTES, gradient_timeline
from .pipeline import SCHEDULES, partition, schedule
from .profile import LayerProfile, profile
from .recipes import batch_recipe, dataset_size, default_epochs

__all__ = ["DistributedOptions", "DistributedStep", "train_distributed", "compose", "scaling_curve", "parse_sync",
           "SYNC_MODES"]

SYNC_MODES = ("bsp", "asp", "ssp")


def parse_sync(text: str) -> tuple[str, int]:
    """``bsp``, ``asp`` or ``ssp:S`` -> (mode, staleness bound; -1 for no bound)."""
    name, _, bound = text.partition(":")
    if name == "bsp" and not bound:
        return "bsp", 0
    if name == "asp" and not bound:
        return "asp", -1
    if name == "ssp":
        if bound.isdigit():
            return "ssp", int(bound)
        raise SpecError(f"--sync ssp needs its staleness bound, e.g. ssp:3, got {text!r}", field="sync")
    raise SpecError(f"unknown --sync {text!r}; expected bsp, asp or ssp:S (S a staleness bound)", field="sync")


@dataclass(frozen=True)
class DistributedOptions:
    """How the devices share the work. ``data`` None takes every device the tensor and
    pipeline degrees leave; ``comm`` None picks the fastest allreduce (``ps`` under ASP/SSP);
    ``microbatches`` None takes the largest divisor of the batch up to ``4 x pipeline``
    (GPipe's advice); ``iterations``: iterations simulated where replicas drift apart."""

    data: int | None = None
    tensor: int = 1
    pipeline: int = 1
    microbatches: int | None = None
    schedule: str = "1f1b"
    comm: str | None = None
    ps_shards: int = 1
    bucket_bytes: float = DEFAULT_BUCKET_BYTES
    overlap: bool = True
    sync: str = "bsp"
    stragglers: str = "none"
    compress: str = "none"
    epochs: float | None = None
    dataset_size: int | None = None
    iterations: int = 200


@dataclass(frozen=True)
class DistributedStep:
    """One iteration on the cluster (SI units). ``compute_s + bubble_s + exposed_comm_s +
    codec_s + straggler_wait_s == time_per_iteration_s`` for BSP; under ASP/SSP the times
    are per replica and iteration, averaged over the simulation."""

    model: str
    cluster: str
    device: str
    parallel: Parallelism
    batch: int
    microbatches: int
    schedule: str
    comm: str
    sync: str
    staleness_bound: int
    stragglers: str
    compress: str
    overlap: bool
    bucket_bytes: float
    time_per_iteration_s: float
    compute_s: float
    bubble_s: float
    exposed_comm_s: float
    codec_s: float
    straggler_wait_s: float
    gradient_comm_s: float
    single_device_samples_per_s: float
    comm_bytes: dict[str, float]
    memory_per_device_bytes: float
    memory_capacity_bytes: float | None
    epochs: float | None
    dataset_size: int | None
    stages: tuple[dict[str, Any], ...] = ()
    simulation: dict[str, Any] | None = None
    timeline: tuple[dict[str, Any], ...] = ()
    one_device: TrainStep | None = field(default=None, compare=False, repr=False)
    micro_step: TrainStep | None = field(default=None, compare=False, repr=False)

    @property
    def devices(self) -> int:
        return self.parallel.devices

    @property
    def global_batch(self) -> int:
        return self.batch * self.parallel.data

    @property
    def samples_per_s(self) -> float:
        t = self.time_per_iteration_s
        return self.global_batch / t if t > 0 else 0.0

    @property
    def scaling_efficiency(self) -> float:
        ideal = self.devices * self.single_device_samples_per_s
        return self.samples_per_s / ideal if ideal > 0 else 0.0

    @property
    def iterations_per_epoch(self) -> int | None:
        return math.ceil(self.dataset_size / self.global_batch) if self.dataset_size else None

    @property
    def time_to_train_s(self) -> float | None:
        if self.epochs is None or self.iterations_per_epoch is None:
            return None
        return self.epochs * self.iterations_per_epoch * self.time_per_iteration_s

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``accelsim train --hw CLUSTER --json`` (docs/json-format.md)."""
        p = self.parallel
        return {
            "model": self.model, "cluster": self.cluster, "hardware": self.device, "devices": self.devices,
            "parallelism": {"data": p.data, "tensor": p.tensor, "pipeline": p.pipeline,
                            "microbatches": self.microbatches, "schedule": self.schedule},
            "batch_per_replica": self.batch, "global_batch": self.global_batch,
            "comm": self.comm, "sync": self.sync, "staleness_bound": self.staleness_bound,
            "stragglers": self.stragglers, "compress": self.compress, "overlap": self.overlap,
            "bucket_bytes": self.bucket_bytes,
            "time_per_iteration_s": self.time_per_iteration_s, "samples_per_s": self.samples_per_s,
            "scaling_efficiency": self.scaling_efficiency,
            "single_device_samples_per_s": self.single_device_samples_per_s,
            "breakdown_s": {"compute_s": self.compute_s, "bubble_s": self.bubble_s,
                            "exposed_comm_s": self.exposed_comm_s, "codec_s": self.codec_s,
                            "straggler_wait_s": self.straggler_wait_s},
            "compute_s": self.compute_s, "exposed_comm_s": self.exposed_comm_s, "bubble_s": self.bubble_s,
            "straggler_wait_s": self.straggler_wait_s, "gradient_comm_s": self.gradient_comm_s,
            "comm_bytes": dict(self.comm_bytes),
            "epochs": self.epochs, "dataset_size": self.dataset_size,
            "iterations_per_epoch": self.iterations_per_epoch, "time_to_train_s": self.time_to_train_s,
            "large_batch": batch_recipe(self.global_batch),
            "memory_per_device_bytes": self.memory_per_device_bytes,
            "memory_capacity_bytes": self.memory_capacity_bytes,
            "stages": list(self.stages), "simulation": self.simulation, "timeline": list(self.timeline),
        }


def _microbatches(batch: int, pipeline: int, given: int | None) -> int:
    if given is not None:
        if batch % given:
            raise SpecError(f"--microbatches {given} does not divide the batch {batch}", field="microbatches")
        return given
    if pipeline == 1:
        return 1
    return max(d for d in range(1, min(batch, 4 * pipeline) + 1) if batch % d == 0)


def _memory_bps(step: TrainStep) -> float:
    """The device memory's bandwidth: the slowest level the estimate names (off-chip)."""
    values = [bw for _, bw in step.forward.bandwidth_bps if bw > 0]
    return min(values) if values else float("inf")


def _tensor_split(prof: LayerProfile, cluster: ClusterSpec, parallel: Parallelism, comm: str
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Comm]:
    """Per-layer (forward, backward, forward comm, backward comm) times under tensor
    parallelism, and its communication. Matrix layers alternate column- and row-parallel;
    a row-parallel layer's output is allreduced forward and its column partner's input
    gradient backward (the same size in a transformer block)."""
    t = parallel.tensor
    fwd, bwd = prof.forward_s.copy(), prof.backward_s.copy()
    f_comm, b_comm = np.zeros_like(fwd), np.zeros_like(bwd)
    if t == 1:
        return fwd, bwd, f_comm, b_comm, Comm()
    fwd[prof.matrix] /= t
    bwd[prof.matrix] /= t
    group = group_of(cluster, parallel, "tensor")
    total = Comm()
    algorithm = comm if comm in ("ring", "tree", "hierarchical", "torus2d") else "ring"
    for rank, i in enumerate(np.flatnonzero(prof.matrix)):
        if rank % 2 == 1:
            c = allreduce(cluster, group, float(prof.output_bytes[i]), algorithm)
            f_comm[i] += c.time_s
            b_comm[i] += c.time_s
            total = total + c.times(2)  # forward and backward, one tensor group, one micro-batch
    return fwd, bwd, f_comm, b_comm, total


def compose(prof: LayerProfile, cluster: ClusterSpec, parallel: Parallelism, options: DistributedOptions, *,
            batch: int, microbatches: int, single_samples_per_s: float, model: str, memory_bps: float,
            memory_per_device: float = 0.0, capacity: float | None = None, seed: int = 0) -> DistributedStep:
    """The iteration of ``parallel`` on ``cluster`` from the per-layer ``prof`` of one
    micro-batch on one device (see the module docstring)."""
    mode, bound = parse_sync(options.sync)
    comp = compression(options.compress)
    if mode != "bsp" and options.comm not in (None, "ps"):
        raise SpecError(f"--sync {options.sync} needs a parameter server (--comm ps): an allreduce is a "
                        f"barrier", field="sync")
    if options.comm is not None and options.comm not in COMM_ALGORITHMS:
        raise SpecError(f"unknown --comm {options.comm!r}; expected one of {', '.join(COMM_ALGORITHMS)}",
                        field="comm")
    if options.schedule not in SCHEDULES:
        raise SpecError(f"unknown --schedule {options.schedule!r}; expected one of {', '.join(SCHEDULES)}",
                        field="schedule")
    requested = options.comm or ("ps" if mode != "bsp" else None)
    t, p = parallel.tensor, parallel.pipeline
    fwd, bwd, f_comm, b_comm, tensor_comm = _tensor_split(prof, cluster, parallel, requested or "ring")
    recompute = prof.recompute_s * (fwd / fwd.sum() if fwd.sum() > 0 else fwd)
    bwd = bwd + recompute

    # pipeline stages
    cuts = partition(fwd + bwd + f_comm + b_comm, p)
    ends = list(cuts[1:]) + [len(fwd)]
    pgroup = group_of(cluster, parallel, "pipeline")
    hops = tuple(point_to_point(cluster, float(prof.output_bytes[e - 1]) / t, pgroup.per_node == 1).time_s
                 for e in ends[:-1])
    plan = schedule(fwd + f_comm, bwd + b_comm, cuts, microbatches, options.schedule, hops)
    pure = [float(fwd[a:e].sum() + bwd[a:e].sum()) for a, e in zip(cuts, ends)]
    busiest = int(np.argmax([f + b for f, b in zip(plan.forward_s, plan.backward_s)]))

    # gradients of each stage, reduced across the data-parallel replicas
    matrix_share = np.where(prof.matrix, 1.0 / t, 1.0)
    grad_bytes = prof.params * matrix_share * prof.grad_bytes_per_param
    values_per_stage = [float((prof.params * matrix_share)[a:e].sum()) for a, e in zip(cuts, ends)]
    dgroup = group_of(cluster, parallel, "data")
    wire = comp.ratio(prof.grad_bytes_per_param)
    total_grad = float(grad_bytes.sum())
    if requested is None:
        requested = best_algorithm(cluster, dgroup, total_grad * wire / p) if dgroup.size > 1 else "ring"
    if requested == "ps":
        def cost(n: float) -> Comm:
            return ps_exchange(cluster, dgroup, n * wire, options.ps_shards)[0]
    else:
        def cost(n: float) -> Comm:
            return allreduce(cluster, dgroup, n * wire, requested)
    update_share = float((prof.params * matrix_share).sum() / max(prof.params.sum(), 1.0))
    update_s = prof.update_s * update_share / p
    ends_s, grad_comm, exposed_dp, timelines = [], Comm(), 0.0, []
    for s, (a, e) in enumerate(zip(cuts, ends)):
        # a stage's last micro-batch backward is the window its gradients can hide behind
        window = bwd[a:e] + b_comm[a:e]
        tl = gradient_timeline(window, grad_bytes[a:e], options.bucket_bytes, cost, options.overlap) \
            if dgroup.size > 1 else gradient_timeline(window, np.zeros(e - a), options.bucket_bytes, cost, False)
        finish = plan.total_s - sum(plan.backward_s[:s])
        ends_s.append(finish + tl.exposed_s)
        grad_comm = grad_comm + tl.comm
        timelines.append(tl)
    exposed_dp = max(ends_s) - plan.total_s
    codec = comp.codec_s(max(values_per_stage), memory_bps) if dgroup.size > 1 and comp.name != "none" else 0.0
    compute = microbatches * pure[busiest] + update_s
    pipeline_comm = plan.total_s - plan.bubble_s - microbatches * pure[busiest]
    local = compute + plan.bubble_s + pipeline_comm + codec
    # bytes per iteration over the whole cluster: t data-parallel groups per stage, d x p
    # tensor groups, d x t pipelines
    tensor_groups = parallel.data * p * microbatches
    hop_bytes = sum(float(prof.output_bytes[e - 1]) / t * 2 * microbatches for e in ends[:-1]) * parallel.data * t
    crossing = pgroup.per_node == 1
    comm_bytes = {
        "intra_node": grad_comm.intra_node_bytes * t + tensor_comm.intra_node_bytes * tensor_groups
        + (0.0 if crossing else hop_bytes),
        "inter_node": grad_comm.inter_node_bytes * t + tensor_comm.inter_node_bytes * tensor_groups
        + (hop_bytes if crossing else 0.0),
    }
    if requested == "ps":
        comm_bytes["parameter_server"] = grad_comm.inter_node_bytes * t
        comm_bytes["inter_node"] -= comm_bytes["parameter_server"]
    straggler_wait, simulation = 0.0, None
    if mode == "bsp":
        iteration = local + exposed_dp
        if options.stragglers != "none" and parallel.data > 1:
            sim = _simulate(local, parallel.data, options, seed, comm_s=exposed_dp)
            iteration = sim.makespan_s / sim.iterations
            straggler_wait = max(0.0, iteration - local - exposed_dp)
            simulation = _sim_summary(sim)
        exposed = exposed_dp + pipeline_comm
    else:
        full = total_grad / p
        grad_comm, server_s, worker_s = ps_exchange(cluster, dgroup, full * wire, options.ps_shards)
        comm_s = max(0.0, worker_s - server_s)
        sim = _simulate(local, parallel.data, options, seed, comm_s=comm_s, server_s=server_s, staleness=bound)
        iteration = sim.workers / sim.concurrent_updates_per_s
        exposed = server_s + comm_s + pipeline_comm
        straggler_wait = max(0.0, iteration - local - server_s - comm_s)
        simulation = _sim_summary(sim)
        comm_bytes["parameter_server"] = grad_comm.inter_node_bytes * t * p
    stages = tuple({"first_layer": prof.names[a], "last_layer": prof.names[e - 1], "layers": e - a,
                    "forward_s": plan.forward_s[s], "backward_s": plan.backward_s[s],
                    "gradient_bytes": float(grad_bytes[a:e].sum() * wire)}
                   for s, (a, e) in enumerate(zip(cuts, ends)))
    epochs = options.epochs if options.epochs is not None else default_epochs(model)
    size = options.dataset_size if options.dataset_size is not None else dataset_size(model)
    return DistributedStep(
        model=model, cluster=cluster.name, device=cluster.device.name, parallel=parallel, batch=batch,
        microbatches=microbatches, schedule=options.schedule, comm=requested, sync=mode, staleness_bound=bound,
        stragglers=options.stragglers, compress=comp.name, overlap=options.overlap,
        bucket_bytes=options.bucket_bytes, time_per_iteration_s=iteration, compute_s=compute,
        bubble_s=plan.bubble_s, exposed_comm_s=exposed, codec_s=codec,
        straggler_wait_s=straggler_wait, gradient_comm_s=grad_comm.time_s,
        single_device_samples_per_s=single_samples_per_s, comm_bytes=comm_bytes,
        memory_per_device_bytes=memory_per_device, memory_capacity_bytes=capacity, epochs=epochs,
        dataset_size=size, stages=stages, simulation=simulation,
        timeline=_timeline(prof, plan, timelines[0], fwd, bwd, update_s, iteration, microbatches, p),
    )


def _simulate(local_s: float, workers: int, options: DistributedOptions, seed: int, *, comm_s: float,
              server_s: float = 0.0, staleness: int = 0) -> Any:
    from ..kernels.eventsim import simulate, straggler_times

    try:
        compute = straggler_times(local_s, workers, options.iterations, options.stragglers, seed)
    except ValueError as exc:
        raise SpecError(f"--stragglers: {exc}", field="stragglers") from None
    return simulate(compute, comm_s=comm_s, server_s=server_s, staleness=staleness)


def _sim_summary(sim: Any) -> dict[str, Any]:
    idle = np.asarray(sim.idle_s) / sim.iterations
    hist = [int(x) for x in sim.staleness]
    return {"workers": sim.workers, "iterations": sim.iterations, "events": sim.events,
            "updates_per_s": sim.updates_per_s,
            "idle_per_iteration_s": {"mean": float(idle.mean()), "p50": float(np.percentile(idle, 50)),
                                     "p99": float(np.percentile(idle, 99)), "max": float(idle.max())},
            "staleness_histogram": hist, "mean_staleness": float(sim.mean_staleness),
            "max_staleness": int(sim.max_staleness)}


def _timeline(prof: LayerProfile, plan: Any, tl: Any, fwd: np.ndarray, bwd: np.ndarray, update_s: float,
              iteration: float, microbatches: int, stages: int) -> tuple[dict[str, Any], ...]:
    """Stage 0's iteration as segments (seconds from its start), for the report's timeline."""
    m = microbatches
    f0, b0 = plan.forward_s[0], plan.backward_s[0]
    out: list[dict[str, Any]] = []
    t = 0.0
    for _ in range(m):
        out.append({"kind": "forward", "start_s": t, "end_s": t + f0})
        t += f0
    back_start = plan.total_s - m * b0
    if back_start > t:
        out.append({"kind": "bubble", "start_s": t, "end_s": back_start})
    t = back_start
    for _ in range(m):
        out.append({"kind": "backward", "start_s": t, "end_s": t + b0})
        t += b0
    offset = plan.total_s - tl.backward_s
    for tr in tl.transfers:
        out.append({"kind": "gradient_comm", "start_s": offset + tr.start_s, "end_s": offset + tr.end_s,
                    "bytes": tr.bytes})
    done = max([t] + [offset + tr.end_s for tr in tl.transfers])
    out.append({"kind": "optimizer", "start_s": done, "end_s": done + update_s})
    if iteration > done + update_s:
        out.append({"kind": "wait", "start_s": done + update_s, "end_s": iteration})
    return tuple(out)


def train_distributed(model: Graph | str | Path, cluster: ClusterSpec | str | Path, *, batch: int | None = None,
                      precision: str | None = None, optimizer: str = "sgd", recompute: str = "none",
                      options: DistributedOptions = DistributedOptions(), family_options: Any = None,
                      seed: int = 0, cache: bool = True, jobs: int = 1,
                      progress: Callable[[int, int], None] | None = None, passes: Sequence[str] = (),
                      check_memory: bool = True) -> DistributedStep:
    """Cost one training iteration of ``model`` on ``cluster`` (a file, a bundled name or a
    :class:`ClusterSpec`) under ``options``. ``batch`` is what one data-parallel replica
    takes per iteration (the model's own where None); the global batch is ``batch x data``.

    Raises:
        SpecError: a bad option, cluster or model; degrees the cluster cannot hold.
        MappingError: a layer the device cannot run; a device's share does not fit its memory.
    """
    spec = cluster if isinstance(cluster, ClusterSpec) else load_cluster(cluster)
    parallel = _parallelism(spec, options)
    common = dict(precision=precision, optimizer=optimizer, recompute=recompute, options=family_options,
                  seed=seed, cache=cache, jobs=jobs, progress=progress, passes=passes, check_memory=False)
    whole = train(model, spec.device, batch=batch, **common)
    m = _microbatches(whole.batch, parallel.pipeline, options.microbatches)
    step = whole if m == 1 else train(model, spec.device, batch=whole.batch // m, **common)
    share = parallel.tensor * parallel.pipeline
    mem = whole.memory
    in_flight = m if options.schedule == "gpipe" else min(parallel.pipeline, m)
    per_device = ((mem.weights + mem.master_weights + mem.gradients + mem.optimizer_state) / share
                  + step.memory.activations * in_flight / share + step.memory.workspace)
    capacity = spec.device.memory_capacity_bytes
    if check_memory and capacity and per_device > capacity:
        raise MappingError(f"training {whole.model} at batch {whole.batch} needs {per_device / 2**30:.2f} GiB per "
                           f"device with tensor {parallel.tensor} x pipeline {parallel.pipeline}, but "
                           f"{spec.device.name} has {capacity / 2**30:.2f} GiB; try a smaller --batch, more "
                           f"--tensor or --pipeline, or --recompute full", file=spec.source)
    result = compose(profile(step), spec, parallel, options, batch=whole.batch, microbatches=m,
                     single_samples_per_s=whole.samples_per_s, model=whole.model, memory_bps=_memory_bps(step),
                     memory_per_device=per_device, capacity=capacity, seed=seed)
    return replace(result, one_device=whole, micro_step=step)


def _parallelism(spec: ClusterSpec, options: DistributedOptions) -> Parallelism:
    for name in ("tensor", "pipeline", "data", "ps_shards", "iterations", "microbatches"):
        value = getattr(options, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise SpecError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}", field=name)
    if options.bucket_bytes <= 0:
        raise SpecError(f"--bucket-size must be positive, got {options.bucket_bytes!r}", field="bucket_bytes")
    rest = options.tensor * options.pipeline
    data = options.data if options.data is not None else max(1, spec.devices // rest)
    parallel = Parallelism(data, options.tensor, options.pipeline)
    parallel.check(spec)
    return parallel


def scaling_curve(step: DistributedStep, cluster: ClusterSpec | str | Path, options: DistributedOptions,
                  seed: int = 0) -> list[dict[str, float]]:
    """``step``'s run at 1, 2, 4, ... data-parallel replicas up to its own, reusing its
    one-device cost: devices, samples per second and scaling efficiency at each."""
    if step.micro_step is None:
        raise ValueError("scaling_curve needs a step made by train_distributed")
    spec = cluster if isinstance(cluster, ClusterSpec) else load_cluster(cluster)
    prof = profile(step.micro_step)
    out = []
    d = 1
    while True:
        par = replace(step.parallel, data=d)
        r = compose(prof, spec, par, replace(options, data=d), batch=step.batch, microbatches=step.microbatches,
                    single_samples_per_s=step.single_device_samples_per_s, model=step.model,
                    memory_bps=_memory_bps(step.micro_step), seed=seed)
        out.append({"devices": r.devices, "data": d, "samples_per_s": r.samples_per_s,
                    "scaling_efficiency": r.scaling_efficiency, "time_per_iteration_s": r.time_per_iteration_s})
        if d >= step.parallel.data:
            break
        d = min(d * 2, step.parallel.data)
    return out
