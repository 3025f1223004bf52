"""TensorFlow: two GradientTapes, one optimizer step for both networks.

Under `tf.distribute` (MirroredStrategy, MultiWorkerMirroredStrategy)
`train_step` runs once per replica on its share of the global batch, and
Keras' optimizer all-reduces the gradients with a SUM before its single
update. Each replica's loss is a mean over its own share, so it is divided
by the number of replicas: the summed gradient is then the gradient of the
global-batch mean, the same step as on one device (without the division
every step was N times too large).
"""

import tensorflow as tf


def _replica_context():
    """The replica context when several replicas train in sync, else None."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync < 2:
        return None
    return context


def _across_workers(logs):
    """Logs in the shape Keras can average over several workers.

    Keras 3.15 averages each log over a MultiWorkerMirroredStrategy with
    `strategy.reduce("MEAN", value, axis=0)`, which needs an axis: scalars fail
    ("Invalid reduction dimension 0"), shape-(1,) values average to the scalar.
    """
    strategy = tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode():
        return {name: tf.reshape(value, [1]) for name, value in logs.items()}
    return logs


def _strategy_name(strategy):
    return f"{type(strategy).__name__} with {strategy.num_replicas_in_sync} replicas"


class BackendTrainer:
    # ---------------------------------------------------- the global batch
    def gather_replicas(self, x):
        """Every replica's `x` concatenated in replica order (the global batch); `x` on one device."""
        context = _replica_context()
        if context is None:
            return x
        # all_gather forgets the static shape; the pool and the losses check it.
        return tf.ensure_shape(context.all_gather(x, axis=0), [None] + list(x.shape[1:]))

    def this_replica(self, global_x, local_x):
        """This replica's rows of a gathered batch (those `local_x` came from)."""
        context = _replica_context()
        if context is None:
            return global_x
        size = tf.shape(local_x)[0]
        start = context.replica_id_in_sync_group * size
        return global_x[start:start + size]

    def _check_even_split(self, context, a):
        # Averaging the replicas' means is the global mean only for equal shares.
        sizes = context.all_gather(tf.shape(a)[:1], axis=0)
        tf.debugging.assert_equal(
            tf.reduce_min(sizes), tf.reduce_max(sizes),
            message=(f"the global batch does not split evenly over {context.num_replicas_in_sync} "
                     "replicas; use a batch size that is a multiple of the number of replicas"),
        )

    # ------------------------------------------------------------ checks
    def _check_strategy(self):
        """Refuses a model and a strategy that do not belong together, instead of training wrongly."""
        current = tf.distribute.get_strategy()
        built = self._distribute_strategy
        if built is None and current.num_replicas_in_sync > 1:
            raise ValueError(
                f"{self.name} was built outside the {_strategy_name(current)} it is trained under; "
                "build (or load) and compile it inside `with strategy.scope():`."
            )
        if built is not None and tf.distribute.has_strategy() and current is not built:
            raise ValueError(
                f"{self.name} was built under {_strategy_name(built)} but is trained under another "
                f"strategy ({_strategy_name(current)}); use the strategy it was built with."
            )
        strategy = built or current
        optimizers = [self.optimizer, getattr(self.optimizer, "inner_optimizer", None),
                      getattr(self._paired_optimizer, "generator_optimizer", None),
                      getattr(self._paired_optimizer, "discriminator_optimizer", None)]
        for optimizer in optimizers:
            owner = getattr(optimizer, "_distribution_strategy", None)
            if owner is not None and owner is not strategy and (
                    owner.num_replicas_in_sync > 1 or strategy.num_replicas_in_sync > 1):
                raise ValueError(
                    f"{self.name}'s optimizer {optimizer.name!r} was created under "
                    f"{_strategy_name(owner)}, the model under {_strategy_name(strategy)}; "
                    "create the optimizers and compile inside the model's `strategy.scope()`."
                )

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # A compiled CycleGAN has every layer and its optimizer built, so Keras' symbolic
        # build has nothing to do. Under MultiWorkerMirroredStrategy it would also fail
        # (Keras 3.15 reduces the first batch across workers and cannot convert the
        # per-replica (a, b) pair), so it is skipped when there is nothing to build.
        if self.optimizer is not None and self.optimizer.built and all(
                layer.built for layer in self._flatten_layers()):
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def fit(self, *args, **kwargs):
        self._check_compiled()
        self._check_strategy()
        return super().fit(*args, **kwargs)

    # ------------------------------------------------------------- steps
    def train_step(self, data):
        self._check_compiled()
        a, b, motion = self._unpack(data)
        context = _replica_context()
        replicas = 1
        if context is not None:
            replicas = context.num_replicas_in_sync
            self._check_even_split(context, a)
        optimizer = self.optimizer
        g_vars, d_vars = self.generator_variables, self.discriminator_variables
        with tf.GradientTape() as tape:
            g_total, g_logs, fake_a, fake_b = self.generator_objective(a, b, motion=motion)
            scaled = optimizer.scale_loss(g_total / replicas)
        g_grads = tape.gradient(scaled, g_vars)
        fake_a, fake_b = self.pooled_fakes(fake_a, fake_b)
        with tf.GradientTape() as tape:
            d_total, d_logs = self.discriminator_objective(a, b, fake_a, fake_b)
            scaled = optimizer.scale_loss(d_total / replicas)
        d_grads = tape.gradient(scaled, d_vars)
        # Both updates use gradients taken at the same weights, as in CycleGAN.
        optimizer.apply(list(g_grads) + list(d_grads), g_vars + d_vars)
        # Each replica records its share's losses; Keras averages them over replicas.
        return _across_workers(self.record({**g_logs, **d_logs}))

    def test_step(self, data):
        self._check_compiled()
        a, b, motion = self._unpack(data)
        return _across_workers(self.record(self.evaluation_logs(a, b, motion)))


def compiled_forward(network):
    """`network(x, training=False)` as a tf.function: traced once per input shape, then reused."""

    @tf.function(reduce_retracing=False)
    def forward(x):
        return network(x, training=False)

    return forward
