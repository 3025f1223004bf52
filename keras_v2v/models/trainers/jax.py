"""JAX: pure functions of the model state, jax.value_and_grad, stateless_apply.

Keras hands train_step the state (trainable, non-trainable, optimizer and
metric variable values); the shared loss methods run unchanged inside a
`StatelessScope` that maps every variable to its value in that state.
"""

import jax
import keras

from keras_v2v.models import conv_ops
from keras_v2v.utils import host_memory


class BackendTrainer:
    # Under keras.distribution the step is one program over the global batch
    # (sharded by XLA), so there is nothing to gather.
    def gather_replicas(self, x):
        return x

    def this_replica(self, global_x, local_x):
        return global_x

    def _state_scope(self, trainable, non_trainable, optimizer, metrics):
        mapping = (
            list(zip(self.trainable_variables, trainable))
            + list(zip(self.non_trainable_variables, non_trainable))
            + list(zip(self.optimizer.variables, optimizer))
            + list(zip(self.metrics_variables, metrics))
        )
        return keras.StatelessScope(state_mapping=mapping)

    def _positions(self, variables):
        index = {id(v): i for i, v in enumerate(self.trainable_variables)}
        return [index[id(v)] for v in variables]

    def _differentiable(self, objective, positions, state):
        """loss(values of the variables at `positions`, non_trainable) -> (scaled loss, aux)."""
        trainable, _, optimizer, metrics = state

        def loss_fn(values, non_trainable):
            full = list(trainable)
            for position, value in zip(positions, values):
                full[position] = value
            with self._state_scope(full, non_trainable, optimizer, metrics) as scope:
                total, logs, *outputs = objective()
                scaled = self.optimizer.scale_loss(total)
            non_trainable = [scope.get_current_value(v) for v in self.non_trainable_variables]
            return scaled, (logs, outputs, non_trainable)

        return jax.value_and_grad(loss_fn, has_aux=True)

    def train_step(self, state, data):
        self._check_compiled()
        trainable, non_trainable, optimizer, metrics = state
        a, b, motion = self._unpack(data)
        g_pos = self._positions(self.generator_variables)
        d_pos = self._positions(self.discriminator_variables)

        g_fn = self._differentiable(lambda: self.generator_objective(a, b, motion=motion), g_pos, state)
        (_, (g_logs, (fake_a, fake_b), non_trainable)), g_grads = g_fn(
            [trainable[p] for p in g_pos], non_trainable
        )
        with self._state_scope(trainable, non_trainable, optimizer, metrics) as scope:
            fake_a, fake_b = self.pooled_fakes(fake_a, fake_b)
        non_trainable = [scope.get_current_value(v) for v in self.non_trainable_variables]

        d_fn = self._differentiable(
            lambda: self.discriminator_objective(a, b, fake_a, fake_b),
            d_pos,
            (trainable, non_trainable, optimizer, metrics),
        )
        (_, (d_logs, _, non_trainable)), d_grads = d_fn(
            [trainable[p] for p in d_pos], non_trainable
        )

        # Both updates use gradients taken at the same weights, as in CycleGAN.
        grads = [None] * len(trainable)
        for position, grad in zip(g_pos + d_pos, list(g_grads) + list(d_grads)):
            grads[position] = grad
        trainable, optimizer = self.optimizer.stateless_apply(optimizer, grads, trainable)

        with self._state_scope(trainable, non_trainable, optimizer, metrics) as scope:
            logs = self.record({**g_logs, **d_logs})
        metrics = [scope.get_current_value(v) for v in self.metrics_variables]
        return logs, (trainable, non_trainable, optimizer, metrics)

    def test_step(self, state, data):
        self._check_compiled()
        trainable, non_trainable, metrics = state
        a, b, motion = self._unpack(data)
        mapping = (
            list(zip(self.trainable_variables, trainable))
            + list(zip(self.non_trainable_variables, non_trainable))
            + list(zip(self.metrics_variables, metrics))
        )
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = self.record(self.evaluation_logs(a, b, motion))
        metrics = [scope.get_current_value(v) for v in self.metrics_variables]
        return logs, (trainable, non_trainable, metrics)


def compiled_forward(network):
    """`network(x, training=False)` jitted over its variables' current values (compiled once per shape)."""
    if jax.default_backend() == "cpu":
        host_memory.keep_freed_memory()  # translate 1.2-1.4x (mnist-colorize-3d, vmnist-sph2sand-3d)

    @jax.jit
    def forward(trainable, non_trainable, x):
        with conv_ops.forward_only():  # traced once per shape, never differentiated
            outputs, _ = network.stateless_call(trainable, non_trainable, x, training=False)
        return outputs

    def state():
        return [v.value for v in network.trainable_variables], [v.value for v in network.non_trainable_variables]

    def call(x):
        return forward(*state(), x)

    # The compiled program itself (HLO), for benchmarks/jax_profile.py to name its thunks by layer.
    call.compiled_text = lambda x: forward.lower(*state(), x).compile().as_text()
    return call
