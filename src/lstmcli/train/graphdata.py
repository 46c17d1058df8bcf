"""Data held as tensors for the fused loops: batches gathered in the graph, each replica its share.

Series windows are built by index arithmetic on the series itself, so a long
series is never copied once per timestep.
"""

from __future__ import annotations

import math

import numpy as np

from lstmcli.data.prepared import Prepared, Windows


class GraphData:
    """A Prepared data set held as tensors, with an in-graph `take(indices)`."""

    def __init__(self, data: Prepared, batch_size: int | None, sample_weight: np.ndarray | None = None):
        import tensorflow as tf

        self.n = len(data)
        self.batch_size = min(batch_size or self.n, self.n)
        self.n_batches = math.ceil(self.n / self.batch_size)
        if isinstance(data.inputs, Windows):
            self._values = tf.constant(data.inputs.values)
            self._starts = tf.constant(data.inputs.starts)
            self._offsets = tf.range(data.inputs.timesteps, dtype=tf.int64)
        else:
            self._values = tf.constant(data.inputs.values)
            self._starts = None
        self.y = None if data.y is None else tf.constant(data.y)
        self.sample_weight = None if sample_weight is None else tf.constant(sample_weight, tf.float32)

    def take(self, indices):
        import tensorflow as tf

        if self._starts is None:
            return tf.gather(self._values, indices)
        rows = tf.gather(self._starts, indices)[:, None] + self._offsets
        return tf.gather(self._values, rows)

    def inputs_of(self, indices) -> tuple:
        """A step's arguments for the samples at `indices`: (x, y), and their sample weights if any."""
        import tensorflow as tf

        x, y = self.take(indices), tf.gather(self.y, indices)
        return (x, y) if self.sample_weight is None else (x, y, tf.gather(self.sample_weight, indices))

    def batch(self, b, order=None):
        """Indices of batch `b` (a tensor), in `order` if given."""
        import tensorflow as tf

        start = tf.cast(b, tf.int64) * self.batch_size
        stop = tf.minimum(start + self.batch_size, self.n)
        if order is None:
            return tf.range(start, stop)
        return order[start:stop]


def replica_share(indices):
    """This replica's contiguous share of a global batch's `indices` (in a replica context)."""
    import tensorflow as tf

    ctx = tf.distribute.get_replica_context()
    replica = tf.cast(ctx.replica_id_in_sync_group, tf.int64)
    n = tf.size(indices, out_type=tf.int64)
    count = ctx.num_replicas_in_sync
    return indices[n * replica // count : n * (replica + 1) // count]
