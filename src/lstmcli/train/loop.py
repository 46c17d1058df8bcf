"""Fast training, evaluation and prediction loops that run inside the graph.

Keras's `model.fit` returns to Python after every batch (or every
`steps_per_execution` batches) and then loses the per-epoch history. Here one
`tf.function` runs a whole chunk of steps, across epoch boundaries, calling the
model's own `train_step`: the optimizer, loss and compiled metrics are Keras's,
so an epoch's logs are exactly what `model.fit` would report, while a
1,000-epoch full-batch fit costs one Python round trip per chunk instead of a
thousand. Chunks are sized to take about `CHUNK_SECONDS`, so progress, Ctrl-C
and callbacks still get a say several times a second.

Batches are gathered in the graph from tensors that hold the data once:
series windows are built by index arithmetic on the series itself, so a long
series is never copied once per timestep.

Under a `tf.distribute` strategy (see `lstmcli.train.distribution`) the same loop
calls `strategy.run` for every step: each replica gathers its contiguous share
of the global batch (every worker holds the data and takes only its replicas'
windows, like tf.data's DATA sharding), Keras's train_step scales the loss by
the number of replicas, the optimizer all-reduces the gradients with
TensorFlow's collectives, and the metrics (on-read variables) are summed across
replicas and workers when an epoch's logs are read. When every global batch
splits evenly across the replicas, the epoch losses equal a single-process
fit's up to float rounding; a short last batch weighs each replica's mean
equally, as `tf.distribute` always does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from lstmcli.data.prepared import Prepared
from lstmcli.errors import TrainingError
from lstmcli.train.graphdata import GraphData, replica_share

CHUNK_SECONDS = 0.25
PROBE_STEPS = 8  # the second call's steps, timed to size the chunks after it
# XLA compiles the train step once (about half a second for a small LSTM on
# this CPU) and then runs each step faster. Measured on 2 cores: the classic
# example (9 samples × 1 timestep per epoch, 1,000 epochs) fits in 1.6 s with
# XLA against 1.0 s without; 20,000 windows × 30 timesteps train 2.5× faster
# with it. The rule looks at one epoch's work, not the number of epochs, so
# continuing a fit (3 epochs, then 3 more) makes the same choice as one fit.
XLA_MIN_WORK = 100_000  # samples × timesteps per epoch from which XLA pays
EAGER_SAMPLES = 4096  # predict runs eagerly on at most this many samples in one batch …
EAGER_TIMESTEPS = 16  # … of at most this many steps, where an eager LSTM loop is still cheap
VALIDATION_PREFIX = "val_"


def use_xla(requested: bool | None, work: int) -> bool:
    """Whether a fit compiles its step with XLA: as requested, or when an epoch's `work` repays the compile."""
    return requested if requested is not None else work >= XLA_MIN_WORK


@dataclass
class FitResult:
    """What a fit produced: per-epoch history and whether it stopped early."""

    history: dict[str, list[float]] = field(default_factory=dict)
    epochs_run: int = 0
    stopped: str | None = None
    seconds: float = 0.0


class Trainer:
    """Runs fit, evaluate and predict for one compiled Keras model.

    Args:
        model: A compiled Keras model (TensorFlow backend), made in the
            distribution's scope when there is one.
        jit_compile: Compile each step with XLA. Defaults to False.
        distribution: A started `lstmcli.train.distribution.Distribution`; None (the
            default) runs on TensorFlow's default strategy.
    """

    def __init__(self, model, *, jit_compile: bool = False, distribution=None):
        self.model = model
        self.jit_compile = jit_compile
        self.distribution = distribution
        self.strategy = distribution.strategy if distribution is not None else None

    def _on_replicas(self, step, graph: "GraphData", indices):
        """`step(x, y[, sample_weight])` on the samples at `indices`: all of them, or each replica its share."""
        if self.strategy is None:
            return step(*graph.inputs_of(indices))

        def replica(indices):
            return step(*graph.inputs_of(replica_share(indices)))

        return self.strategy.run(replica, args=(indices,))

    def _agree(self, chunk: int, stop: str | None) -> tuple[int, str | None]:
        """Multi-worker: every worker runs the chief's chunk size and stops when any worker stops.

        Each worker times its own steps, but a collective inside the loop is
        matched by its iteration, so all workers must call the loop alike.
        """
        distribution = self.distribution
        if distribution is None or not distribution.multi_worker:
            return chunk, stop
        distribution.pet()
        (agreed,), (stopping,) = distribution.sync([chunk], [1.0 if stop else 0.0])
        if stopping and not stop:
            stop = "interrupted"
        return int(agreed), stop

    def _steps(self):
        import tensorflow as tf

        model = self.model

        def train(x, y, sample_weight=None):
            return model.train_step((x, y) if sample_weight is None else (x, y, sample_weight))

        def test(x, y):
            return model.test_step((x, y))

        if self.jit_compile:
            return tf.function(train, jit_compile=True), tf.function(test, jit_compile=True)
        return train, test

    def fit(
        self,
        train: Prepared,
        *,
        epochs: int,
        batch_size: int | None,
        initial_epoch: int = 0,
        shuffle: bool = True,
        seed: int = 0,
        validation: Prepared | None = None,
        callbacks=None,
        on_chunk_end: Callable[[int, FitResult], None] | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> FitResult:
        """Train from `initial_epoch` up to `epochs`, epoch logs exactly as Keras's.

        Args:
            train: Training data (inputs and encoded targets).
            epochs: The epoch to stop at (Keras's meaning, with initial_epoch).
            batch_size: Samples per step; None for all samples in one batch.
            initial_epoch: Epochs already trained. Defaults to 0.
            shuffle: Reshuffle samples every epoch. Defaults to True.
            seed: Seed for the shuffles: epoch e's order depends only on (seed, e),
                so a resumed fit sees the same batches as an uninterrupted one.
            validation: Data evaluated at each epoch end, logged as val_*.
            callbacks: Keras callbacks (a list or a `keras.callbacks.CallbackList`),
                driven as `model.fit` drives them: `on_train_begin`; every epoch's
                `on_epoch_begin` and `on_epoch_end` with Keras's epoch logs (training
                metrics, then val_* ones), in order; `on_train_batch_end` once per
                chunk, at its last step (batch counted within its epoch; the running
                logs of the epoch under way, or the epoch's training logs when the chunk
                ends on an epoch boundary, just before its `on_epoch_end`), as Keras
                calls it once per `steps_per_execution` steps; `on_train_end`. A
                callback stops training with `model.stop_training`. Epochs that end
                inside a chunk are replayed from its logs afterwards, so a callback that
                may change the model between epochs makes every chunk end at the next
                epoch boundary (see `lstmcli.train.callbacks.each_epoch`). A TerminateOnNaN
                is added when none is given.
            on_chunk_end: Called with (epochs completed, the result so far) after
                every chunk that ends on an epoch boundary (checkpoints hook in
                here); chunks longer than an epoch are then cut at epoch boundaries.
                A plain function, not a callback: it must see the weights exactly at
                an epoch's end, which a replayed epoch's `on_epoch_end` does not.
            sample_weight: One weight per training sample, given to Keras's
                `train_step` as `model.fit` gives its `sample_weight` (and its
                `class_weight`, turned into per-sample weights). Validation is
                not weighted, as in Keras.

        Raises:
            TrainingError: if the loss becomes NaN or infinite (TerminateOnNaN
                stops the fit; the epoch is not given to `on_epoch_end`).
        """
        import tensorflow as tf

        from lstmcli.train.callbacks import callback_list, replay, stop_reason

        model = self.model
        data = GraphData(train, batch_size, sample_weight)
        val = (
            GraphData(validation, None if batch_size is None else max(batch_size, 1024))
            if validation is not None
            else None
        )
        run, keys = self._fused(data, val, shuffle and data.n_batches > 1, seed)
        names_of = lambda: keys + [VALIDATION_PREFIX + k for k in keys] * (val is not None) + ["learning_rate"]  # noqa: E731
        given, callbacks, per_epoch = callback_list(callbacks, model, epochs, data.n_batches)
        nb, result = data.n_batches, FitResult()
        step, end = initial_epoch * nb, epochs * nb
        chunk = 1  # the first call traces; keep it short so Ctrl-C is heard at once
        started, calls, failed = (
            time.perf_counter(),
            0,
            None,
        )  # failed: (epoch, loss) where the loss stopped being finite
        model.stop_training = False
        callbacks.on_train_begin()
        while step < end:
            to_boundary = nb - step % nb
            if per_epoch:
                chunk = min(chunk, to_boundary)
            elif on_chunk_end is not None and chunk > to_boundary:
                chunk -= (step + chunk) % nb
            if step % nb == 0:
                callbacks.on_epoch_begin(step // nb)
            tick = time.perf_counter()
            rows = run(tf.constant(step, tf.int64), tf.constant(chunk, tf.int64)).numpy()
            took = time.perf_counter() - tick
            first_epoch, step, calls = step // nb, step + chunk, calls + 1
            failed = replay(rows, first_epoch, step, nb, names_of(), keys, callbacks, result, model)
            if failed is not None:
                break
            if on_chunk_end is not None and step % nb == 0:
                on_chunk_end(step // nb, result)
            # Size the next chunk to take about CHUNK_SECONDS, once a call without tracing was timed.
            if calls == 1:
                chunk = min(PROBE_STEPS, max(end - step, 1))
            else:
                chunk = max(1, min(end - step, int(CHUNK_SECONDS / max(took / chunk, 1e-7))))
            chunk, result.stopped = self._agree(chunk, stop_reason(given) if model.stop_training else None)
            if result.stopped:
                break
        callbacks.on_train_end()
        result.seconds = time.perf_counter() - started
        if failed is not None:
            epoch, loss = failed
            raise TrainingError(
                f"the loss became {loss} at epoch {epoch + 1}; common causes are a "
                f"learning rate too high (try --learning-rate smaller), unscaled data "
                f"(try fit --scaling standard), or NaN/inf in the data"
            )
        return result

    def _fused(self, data: "GraphData", val: "GraphData | None", reshuffle: bool, seed: int):
        """The fused loop: `run(first, count)` trains steps first..first+count in one graph call.

        Returns `run` and the list of the model's metric names, filled in when
        `run` is first traced; `run` returns one row per epoch that ended in the
        call: the training metrics, then the validation ones, then the learning rate.
        """
        import tensorflow as tf

        model = self.model
        train_step, test_step = self._steps()
        nb, n = data.n_batches, data.n
        seed_t = tf.constant(int(seed), tf.int64)
        keys: list[str] = []

        def order(epoch):
            if not reshuffle:
                return tf.range(n, dtype=tf.int64)
            noise = tf.random.stateless_uniform([n], seed=tf.stack([seed_t, epoch]))
            return tf.argsort(noise, stable=True)

        def validate():
            model.reset_metrics()

            def body(vb):
                self._on_replicas(test_step, val, val.batch(vb))
                return (vb + 1,)

            done = tf.while_loop(lambda vb: vb < val.n_batches, body, (tf.constant(0, tf.int64),))
            with tf.control_dependencies(done):
                return model.get_metrics_result()

        def epoch_logs():
            result = model.get_metrics_result()
            if not keys:
                keys.extend(result)
            values = [tf.cast(result[k], tf.float32) for k in keys]
            if val is not None:
                with tf.control_dependencies(values):
                    vresult = validate()
                values += [tf.cast(vresult[k], tf.float32) for k in keys]
            values.append(tf.cast(model.optimizer.learning_rate, tf.float32))
            return tf.stack(values)

        def new_epoch(epoch):
            model.reset_metrics()
            return tf.cast(order(epoch), tf.int64)

        # autograph=False: the loops are written out, which traces several times
        # faster than letting autograph convert Keras's own step functions.
        @tf.function(autograph=False)
        def run(first, count):
            def body(step, perm, logs):
                epoch, b = step // nb, step % nb
                perm = tf.cond(tf.equal(b, 0), lambda: new_epoch(epoch), lambda: perm)
                self._on_replicas(train_step, data, data.batch(b, perm))
                logs = tf.cond(tf.equal(b, nb - 1), lambda: logs.write(logs.size(), epoch_logs()), lambda: logs)
                return step + 1, perm, logs

            state = (
                first,
                tf.cast(order(first // nb), tf.int64),
                tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False),
            )
            _, _, logs = tf.while_loop(lambda step, *_: step < first + count, body, state)
            width = len(keys) * (2 if val is not None else 1) + 1  # keys are known once the body is traced
            return tf.cond(logs.size() > 0, logs.stack, lambda: tf.zeros([0, width]))

        return run, keys

    def score(self, data: Prepared, outputs: np.ndarray) -> dict[str, float]:
        """Loss and every compiled metric of `outputs` against `data`'s targets, as `model.evaluate` reports them.

        The loss is Keras's compiled loss (regularisation included) over all
        samples at once, which equals evaluate's batch-size-weighted mean up to
        float rounding. The outputs come from `predict`, so evaluate makes one
        forward pass for the metrics and for whatever else it reports.
        """
        model = self.model
        model.reset_metrics()
        loss = model.compute_loss(x=None, y=data.y, y_pred=outputs, training=False)
        if self.strategy is None:
            results = model.compute_metrics(None, data.y, outputs, sample_weight=None)
        else:
            results = self._replica_metrics(data.y, outputs)
        metrics = {"loss": float(loss)}
        metrics.update((k, float(v)) for k, v in results.items() if k != "loss")
        return metrics

    def _replica_metrics(self, y, outputs) -> dict:
        """Metrics updated by each replica on its share, read summed across replicas.

        A distributed metric's variables sum on read and cannot be added to
        from outside a replica.
        """
        import tensorflow as tf

        model = self.model
        y, outputs = tf.constant(y), tf.constant(outputs)
        everything = tf.range(tf.shape(y)[0], dtype=tf.int64)

        def replica(indices):
            mine = replica_share(indices)
            model.compute_metrics(None, tf.gather(y, mine), tf.gather(outputs, mine), sample_weight=None)
            return tf.constant(0)

        self.strategy.run(tf.function(replica, autograph=False), args=(everything,))
        return model.get_metrics_result()

    def predict(self, data: Prepared, batch_size: int | None) -> np.ndarray:
        """The model's outputs for every sample of `data`, batch by batch in the graph.

        Data that fits in one short batch runs eagerly instead: tracing a graph
        costs several times more than one eager call on a few samples.
        """
        import tensorflow as tf

        model, strategy = self.model, self.strategy
        small = len(data) <= min(batch_size or len(data), EAGER_SAMPLES) and data.inputs.timesteps <= EAGER_TIMESTEPS
        if small and strategy is None:
            return np.asarray(model(data.inputs.to_array(), training=False), dtype=np.float32)
        graph = GraphData(data, batch_size)

        def forward_all(x):
            return model(x, training=False)

        forward_all = tf.function(forward_all, jit_compile=True) if self.jit_compile else forward_all

        def forward(indices):
            if strategy is None:
                return forward_all(graph.take(indices))

            def replica(indices):
                return tf.cast(forward_all(graph.take(replica_share(indices))), tf.float32)

            return tf.concat(strategy.experimental_local_results(strategy.run(replica, args=(indices,))), 0)

        @tf.function(autograph=False)
        def run():
            def body(b, out):
                return b + 1, out.write(tf.cast(b, tf.int32), tf.cast(forward(graph.batch(b)), tf.float32))

            state = (tf.constant(0, tf.int64), tf.TensorArray(tf.float32, size=graph.n_batches, infer_shape=False))
            _, out = tf.while_loop(lambda b, _: b < graph.n_batches, body, state)
            return out.concat()

        return run().numpy()
