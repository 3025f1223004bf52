"""TensorFlow: two GradientTapes, one optimizer step for both networks."""

import tensorflow as tf


class BackendTrainer:
    def train_step(self, data):
        self._check_compiled()
        a, b = self._unpack(data)
        optimizer = self.optimizer
        g_vars, d_vars = self.generator_variables, self.discriminator_variables
        with tf.GradientTape() as tape:
            g_total, g_logs, fake_a, fake_b = self.generator_objective(a, b)
            scaled = optimizer.scale_loss(g_total)
        g_grads = tape.gradient(scaled, g_vars)
        fake_a, fake_b = self.pooled_fakes(fake_a, fake_b)
        with tf.GradientTape() as tape:
            d_total, d_logs = self.discriminator_objective(a, b, fake_a, fake_b)
            scaled = optimizer.scale_loss(d_total)
        d_grads = tape.gradient(scaled, d_vars)
        # Both updates use gradients taken at the same weights, as in CycleGAN.
        optimizer.apply(list(g_grads) + list(d_grads), g_vars + d_vars)
        return self.record({**g_logs, **d_logs})

    def test_step(self, data):
        self._check_compiled()
        a, b = self._unpack(data)
        return self.record(self.evaluation_logs(a, b))


def compiled_forward(network):
    """`network(x, training=False)` as a tf.function: traced once per input shape, then reused."""

    @tf.function(reduce_retracing=False)
    def forward(x):
        return network(x, training=False)

    return forward
