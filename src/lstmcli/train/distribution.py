"""Fitting on several devices or machines with TensorFlow's own `tf.distribute`.

lstmcli coordinates nothing itself: `mirrored` is `tf.distribute.MirroredStrategy`
(all local GPUs, or N logical CPU devices), `multi-worker` is
`tf.distribute.MultiWorkerMirroredStrategy` configured by the standard
`TF_CONFIG`. The trainer runs its fused loop under the strategy (see
`training.Trainer`); this module builds the strategy, bounds every wait on a
peer by a timeout, and lets the workers agree on the few values that must be
the same everywhere (the seed, the size of each chunk of steps, whether to
stop, whether the chief wrote the artifact).

The strategy must exist before TensorFlow's runtime starts (before a model is
loaded): logical devices and collective ops can only be configured then.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from lstmcli.errors import ConfigError, DistributionError
from lstmcli.train.watchdog import Watchdog, hard_deadline

STRATEGIES = ("auto", "default", "mirrored", "multi-worker")
LOCAL_STRATEGIES = ("auto", "default", "mirrored")  # evaluate and predict
DEFAULT_TIMEOUT = 300  # seconds a worker waits for a peer before giving up
TF_CONFIG = "TF_CONFIG"
FINISH_KEY = "lstmcli/fit"


@dataclass
class Distribution:
    """A started `tf.distribute` strategy and this process's place in it.

    Args:
        name: The strategy lstmcli chose: default, mirrored or multi-worker.
        strategy: The `tf.distribute.Strategy`, or None for the default one.
        is_chief: Whether this process writes the artifact and checkpoints.
        workers: Processes taking part (1 but for multi-worker).
    """

    name: str
    strategy: Any = None
    is_chief: bool = True
    workers: int = 1
    task: str = "worker:0"
    peers: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    watchdog: Watchdog | None = None

    @contextlib.contextmanager
    def watch(self, doing: str):
        """Multi-worker: guard `doing` (a phrase) against a peer that stops answering."""
        if self.watchdog is None or not self.multi_worker:
            yield
            return
        with self.watchdog.watch(
            f"{self.task} made no progress {doing} for {self.timeout:g} s: a peer ({', '.join(self.peers)}) "
            f"stopped answering; check that every worker in TF_CONFIG runs the same command, or raise --timeout; "
            f"with --checkpoint-dir on shared storage, running it again resumes"
        ):
            yield

    def pet(self) -> None:
        """A chunk of steps finished: the watchdog starts counting again."""
        if self.watchdog is not None:
            self.watchdog.pet()

    @property
    def replicas(self) -> int:
        """Model replicas the global batch is split across."""
        return 1 if self.strategy is None else int(self.strategy.num_replicas_in_sync)

    @property
    def multi_worker(self) -> bool:
        return self.workers > 1

    def scope(self):
        """The strategy's scope, where models (and their variables) are made."""
        return contextlib.nullcontext() if self.strategy is None else self.strategy.scope()

    def sync(self, from_chief: Sequence[float], from_all: Sequence[float] = ()) -> tuple[list[float], list[float]]:
        """Values every worker must agree on: the chief's, and the sum of every worker's.

        One collective all-reduce across the workers; with a single process
        the values come straight back.
        """
        if not self.multi_worker:
            return [float(v) for v in from_chief], [float(v) for v in from_all]
        import tensorflow as tf

        chief = tf.constant(list(from_chief) or [0.0], tf.float64)
        every = tf.constant(list(from_all) or [0.0], tf.float64)
        per_worker = self.replicas // self.workers
        values = tf.concat([chief, every], 0)

        def replica(values):
            ctx = tf.distribute.get_replica_context()
            rid = ctx.replica_id_in_sync_group
            keep_chief = tf.cast(tf.equal(rid, 0), tf.float64)
            keep_every = tf.cast(tf.equal(rid % per_worker, 0), tf.float64)
            mask = tf.concat([tf.fill(tf.shape(chief), keep_chief), tf.fill(tf.shape(every), keep_every)], 0)
            return ctx.all_reduce(tf.distribute.ReduceOp.SUM, values * mask)

        with self.strategy.scope():
            out = self.strategy.experimental_local_results(
                self.strategy.run(tf.function(replica, autograph=False), args=(values,))
            )
        agreed = out[0].numpy().tolist()
        return agreed[: len(from_chief)], agreed[len(chief) :][: len(from_all)]

    def finish(self, ok: bool) -> bool:
        """Multi-worker: the chief tells every worker whether it wrote the artifact.

        Returns whether it did. The chief waits until each worker has read the
        answer, so no worker is left asking a chief that has exited; a worker
        never leaves before the chief has finished its last collective.

        Raises:
            tensorflow.errors.OpError: when a peer does not answer within the timeout.
        """
        if not self.multi_worker:
            return ok
        from tensorflow.python.eager import (
            context,  # private: the coordination service's key-value store has no public API
        )

        store = context.context()
        millis = int(self.timeout * 1000)
        if self.is_chief:
            store.set_config_key_value(f"{FINISH_KEY}/written", "1" if ok else "0")
            for peer in self.peers:
                store.get_config_key_value(f"{FINISH_KEY}/read/{peer}", millis)
            return ok
        written = store.get_config_key_value(f"{FINISH_KEY}/written", millis) == "1"
        try:
            store.set_config_key_value(f"{FINISH_KEY}/read/{self.task}", "1")
        except Exception:  # noqa: BLE001 - the answer is in; a chief that has already left is no failure
            pass
        return written


def start(
    name: str,
    *,
    devices: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    on_stuck: Callable[[str], None] | None = None,
) -> Distribution:
    """Start the strategy `name` before TensorFlow's runtime is initialised.

    Args:
        name: One of STRATEGIES. `auto` is mirrored when more than one GPU is
            visible, else default.
        devices: mirrored only: use this many devices: the first N GPUs, or N
            logical CPU devices where there is no GPU. Defaults to all GPUs.
        timeout: Seconds to wait for a multi-worker peer (to join, or to answer
            a collective) before failing.
        on_stuck: Called with a one-line message when a multi-worker wait
            exceeds `timeout` inside TensorFlow, where no exception can reach
            it; it must end the process. None relies on TensorFlow's own
            timeouts only (some waits then have none).

    Raises:
        ConfigError: for options that do not fit the strategy or a bad TF_CONFIG.
        DistributionError: when the cluster does not come up in time.
    """
    import tensorflow as tf

    if devices is not None and name not in ("mirrored", "auto"):
        raise ConfigError(f"--devices is for --strategy mirrored; the strategy is {name}")
    gpus = tf.config.list_physical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 or (devices or 0) > 1 else "default"
    if name == "default":
        return Distribution("default")
    if name == "mirrored":
        return Distribution("mirrored", tf.distribute.MirroredStrategy(_local_devices(tf, gpus, devices)))
    return _multi_worker(tf, timeout, Watchdog(timeout, on_stuck))


def _local_devices(tf, gpus: list, devices: int | None) -> list[str]:
    if gpus:
        if devices is not None and devices > len(gpus):
            raise ConfigError(
                f"--devices {devices} asks for more GPUs than the {len(gpus)} visible; use at most {len(gpus)}"
            )
        return [f"/gpu:{i}" for i in range(devices or len(gpus))]
    count = devices or 1
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        # Already configured in this process (another step ran first): keep what is there.
        if len(tf.config.list_logical_devices("CPU")) < count:
            raise ConfigError(
                f"--devices {count} must be set before TensorFlow starts; run the step in its own process"
            ) from None
    return [f"/cpu:{i}" for i in range(count)]


def quiet_peer_errors() -> None:
    """Keep TensorFlow's C++ error lines about peers off stderr (lstmcli says it in one line).

    Only effective before TensorFlow is imported; `--debug` skips it.
    """
    if "tensorflow" not in sys.modules:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"


MULTI_WORKER_JOBS = ("chief", "worker")  # the jobs MultiWorkerMirroredStrategy has


def cluster_from_env() -> tuple[dict, str, int]:
    """The cluster, task type and task index of `TF_CONFIG`.

    Raises:
        ConfigError: if TF_CONFIG is missing, not JSON, or does not name this task.
    """
    raw = os.environ.get(TF_CONFIG)
    if not raw:
        raise ConfigError(
            "--strategy multi-worker reads the cluster from the TF_CONFIG environment variable, which is not set; "
            'set it on every worker, e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}\' (see docs/distributed.md)'
        )
    try:
        config = json.loads(raw)
        cluster, task = config["cluster"], config["task"]
        kind, index = task["type"], int(task["index"])
        members = cluster[kind]
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            'TF_CONFIG must be JSON with a cluster ({"worker": ["host:port", …]}) and this process\'s task '
            f'({{"type": "worker", "index": N}}) naming one of its members. Received: {raw!r}'
        ) from None
    others = sorted(set(cluster) - set(MULTI_WORKER_JOBS)) + ([kind] if kind not in MULTI_WORKER_JOBS else [])
    if others:
        raise ConfigError(
            f"TF_CONFIG names a {others[0]!r} job; --strategy multi-worker runs chief and worker tasks only "
            f"(Keras's MultiWorkerMirroredStrategy has no parameter servers), so list every machine under "
            f'"worker" (one may be "chief"). Received: {raw!r}'
        )
    if not 0 <= index < len(members):
        raise ConfigError(
            f"TF_CONFIG's task is {kind} {index}, but the cluster has {len(members)} {kind}(s). Received: {raw!r}"
        )
    return cluster, kind, index


def _multi_worker(tf, timeout: float, watchdog: Watchdog) -> Distribution:
    from tensorflow.python.eager import context  # private: the only way to bound the wait for peers to join

    cluster, kind, index = cluster_from_env()
    workers = sum(len(cluster.get(job, [])) for job in ("chief", "worker"))
    millis = int(timeout * 1000)
    # MultiWorkerMirroredStrategy configures the coordination service itself,
    # with no limit on the wait for peers; configured first, its timeouts hold.
    jobs = [job for job in ("chief", "worker") if job in cluster]
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util

    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=multi_worker_util.coordination_leader(tf.train.ClusterSpec(cluster)),
        cluster_register_timeout_in_ms=millis,
        heartbeat_timeout_in_ms=max(1000, min(millis, 10_000)),
        shutdown_barrier_timeout_in_ms=millis,
        coordinated_jobs=[
            coordination_config_pb2.CoordinatedJob(name=job, num_tasks=len(cluster[job])) for job in jobs
        ],
    )
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout)
    tasks = [f"{job}:{i}" for job in jobs for i in range(len(cluster[job]))]
    me = f"{kind}:{index}"
    peers = [f"{t} at {cluster[t.split(':')[0]][int(t.split(':')[1])]}" for t in tasks if t != me]
    stuck = (
        f"{me} waited {timeout:g} s for the cluster in TF_CONFIG to come up ({', '.join(peers)} did not join); "
        f"start the same command on every worker, check their addresses and ports, or raise --timeout"
    )
    guard = hard_deadline(timeout, stuck) if watchdog.on_stuck is not None else contextlib.nullcontext()
    try:
        with guard:
            strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    except tf.errors.OpError as exc:
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        if "Could not start gRPC server" in first:
            address = cluster[kind][index]
            raise DistributionError(
                f"{me} could not listen on {address} (TF_CONFIG): the port is in use or the address is not this machine's; free it or choose another"
            ) from None
        raise DistributionError(peer_message(exc, timeout)) from None
    return Distribution(
        "multi-worker",
        strategy,
        is_chief=me == tasks[0],
        workers=workers,
        task=me,
        peers=tuple(t for t in tasks if t != me),
        timeout=timeout,
        watchdog=watchdog,
    )


def peer_message(exc, timeout: float) -> str:
    """One line for a collective or cluster failure: what TensorFlow said, and what to do."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    telling = re.compile(r"unhealthy|abort|deadline|connect|reset|unavailable|heartbeat|timed? ?out", re.I)
    said = next(
        (line for line in lines if telling.search(line) and "Graph execution error" not in line),
        lines[-1] if lines else "",
    )
    said = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", said)[:240]
    return (
        f"multi-worker training failed: a peer stopped, failed or did not answer within {timeout:g} s "
        f"({type(exc).__name__}: {said}); start the same command on every worker named in TF_CONFIG, or raise "
        f"--timeout; with --checkpoint-dir on shared storage, running it again resumes"
    )


def agree_on_start(dist, seed: int, resumed_epochs: int, timeout: float) -> int:
    """Multi-worker: the chief's seed for every worker, and one checkpoint seen by all.

    Every worker must shuffle alike and resume from the same epoch; a
    checkpoint directory that is not shared storage would break both.
    """
    if not dist.multi_worker:
        return seed
    with dist.watch("agreeing on the seed and checkpoint"):
        (chief_seed, chief_epochs), (total, squares) = dist.sync(
            [seed, resumed_epochs], [resumed_epochs, resumed_epochs**2]
        )
    if total != dist.workers * chief_epochs or squares != dist.workers * chief_epochs**2:
        raise DistributionError(
            f"the workers found different checkpoints (this one: epoch {resumed_epochs}, the chief's: epoch "
            f"{int(chief_epochs)}); --checkpoint-dir must be one shared directory that every worker sees"
        )
    return int(chief_seed)


def chief_wrote(dist, ok: bool, out: Path, timeout: float) -> None:
    """Multi-worker: wait for the chief's artifact, and fail unless it was written."""
    with dist.watch("handing over the artifact"):
        written = dist.finish(ok)
    if not written and not dist.is_chief:
        raise DistributionError(f"the chief worker failed to write {out}; its error says why")


@contextlib.contextmanager
def peer_errors(timeout: float):
    """Multi-worker: TensorFlow's errors (a collective failed, a peer left) become one DistributionError line."""
    try:
        yield
    except Exception as exc:
        tf = sys.modules.get("tensorflow")
        if tf is not None and isinstance(exc, tf.errors.OpError):
            raise DistributionError(peer_message(exc, timeout)) from None
        raise
