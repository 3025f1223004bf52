"""One Keras optimizer object that steps the generators and discriminators apart.

Keras trainers (and their saving, loss scaling and JAX state handling) know
one `model.optimizer`. `PairedOptimizer` is that object: it owns a
generator optimizer and a discriminator optimizer, each with its own
hyper-parameters and slots, and routes every gradient to the optimizer of
the network its variable belongs to. Both step once per train_step.
"""

import math

import keras

from keras_v2v.models.layers import PACKAGE


def _fused_torch_adam_step(optimizer, grads, variables, learning_rate):
    """Keras Adam's update step as one `torch._fused_adam_` call (torch backend, no amsgrad).

    Keras' own torch Adam runs ten `torch._foreach_*` passes over the
    variables (loops of single-tensor kernels on CPU); the fused kernel reads
    and writes each variable, gradient and slot once. Keras puts epsilon
    outside the bias correction of the second moment (`alpha * m / (sqrt(v) +
    eps)` with `alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)`), torch
    inside it, so torch gets `eps / sqrt(1 - beta_2^t)`: the same update.
    Everything around the update (gradient filtering, clipping, weight decay,
    accumulation, EMA, the iteration count) stays Keras'.
    """
    import torch

    with torch.no_grad():
        step = float(optimizer.iterations.value) + 1.0
        beta_1, beta_2 = float(optimizer.beta_1), float(optimizer.beta_2)
        params = [v.value for v in variables]
        indices = [optimizer._get_variable_index(v) for v in variables]
        momentums = [optimizer._momentums[i].value for i in indices]
        velocities = [optimizer._velocities[i].value for i in indices]
        # The fused kernel walks raw memory: every tensor must be contiguous (a gradient
        # taken through a permuted view is not).
        grads = [g.to(p.dtype).contiguous() for g, p in zip(grads, params)]
        if not all(t.is_contiguous() for t in params + momentums + velocities):
            return type(optimizer)._parallel_update_step(optimizer, grads, variables, learning_rate)
        steps = [torch.tensor(step, dtype=torch.float32, device=params[0].device)] * len(params)
        torch._fused_adam_(params, grads, momentums, velocities, [], steps, lr=float(learning_rate),
                           beta1=beta_1, beta2=beta_2, weight_decay=0.0,
                           eps=float(optimizer.epsilon) / math.sqrt(1.0 - beta_2**step),
                           amsgrad=False, maximize=False)


def _fused_tf_adam_step(optimizer, gradient, variable, learning_rate):
    """Keras Adam's `update_step` as one `ResourceApplyAdam` op (TensorFlow backend, no amsgrad).

    Keras' own step is over a dozen ops and three variable writes per
    variable; the kernel reads and writes the variable and both slots once.
    It computes `m += (g - m) * (1 - beta_1)`, `v += (g^2 - v) * (1 - beta_2)`,
    `var -= alpha * m / (sqrt(v) + eps)` with `alpha = lr * sqrt(1 - beta_2^t) /
    (1 - beta_1^t)`: Keras' update (epsilon outside the bias correction), except
    that it takes `1 - beta` in float32 where Keras takes it in float64 (for
    beta_2 = 0.999 that is 1.3e-5 relative in the second moment's rate).
    Sparse gradients (`tf.IndexedSlices`) and more than one replica (whose slots
    are per-replica) take Keras' own step.
    """
    import tensorflow as tf

    if isinstance(gradient, tf.IndexedSlices) or (
            tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1):
        return type(optimizer).update_step(optimizer, gradient, variable, learning_rate)
    if isinstance(variable, keras.Variable):
        variable = variable.value
    dtype = variable.dtype
    index = optimizer._get_variable_index(variable)
    m, v = optimizer._momentums[index], optimizer._velocities[index]
    step = tf.cast(optimizer.iterations + 1, dtype)
    beta_1, beta_2 = tf.cast(optimizer.beta_1, dtype), tf.cast(optimizer.beta_2, dtype)
    return tf.raw_ops.ResourceApplyAdam(
        var=variable.handle, m=m.value.handle, v=v.value.handle,
        beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
        lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
        epsilon=tf.cast(optimizer.epsilon, dtype), grad=tf.cast(gradient, dtype))


def _plain_adam(optimizer):
    """Whether `optimizer` is a plain Keras Adam (not a subclass, no amsgrad)."""
    return (type(optimizer).__name__ == "Adam" and isinstance(optimizer, keras.optimizers.Adam)
            and not optimizer.amsgrad)


def _fuse_adam(optimizer):
    """Steps a plain Keras Adam with one fused kernel on torch and TensorFlow; others unchanged."""
    backend = keras.backend.backend()
    if not _plain_adam(optimizer):
        return optimizer
    if backend == "torch":
        return _fuse_torch_adam(optimizer)
    if backend != "tensorflow":
        return optimizer

    def update_step(gradient, variable, learning_rate):
        return _fused_tf_adam_step(optimizer, gradient, variable, learning_rate)

    # An instance attribute: saving, get_config and every other method stay Keras' Adam's.
    object.__setattr__(optimizer, "update_step", update_step)
    return optimizer


def _fuse_torch_adam(optimizer):
    """Steps a plain Keras Adam (`_fuse_adam` checked) with `_fused_torch_adam_step` on the torch backend."""
    import torch

    if not hasattr(torch, "_fused_adam_"):
        return optimizer

    def update(grads, variables, learning_rate):
        _fused_torch_adam_step(optimizer, grads, variables, learning_rate)

    # An instance attribute: saving, get_config and every other method stay Keras' Adam's.
    object.__setattr__(optimizer, "_parallel_update_step", update)
    return optimizer


@keras.saving.register_keras_serializable(package=PACKAGE)
class PairedOptimizer(keras.optimizers.Optimizer):
    """Routes gradients of generator variables and discriminator variables.

    Call `set_generator_variables(vars)` before `build`: every other
    trainable variable is treated as a discriminator variable.
    """

    def __init__(self, generator_optimizer, discriminator_optimizer, name="paired_optimizer", **kwargs):
        kwargs.pop("learning_rate", None)
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        self.generator_optimizer = _fuse_adam(keras.optimizers.get(generator_optimizer))
        self.discriminator_optimizer = _fuse_adam(keras.optimizers.get(discriminator_optimizer))
        self._generator_ids = None

    def set_generator_variables(self, variables):
        self._generator_ids = {id(v) for v in variables}

    def _split(self, items, variables):
        if self._generator_ids is None:
            raise ValueError(
                "PairedOptimizer does not know which variables are the generators'; "
                "compile the CycleGAN with it instead of using it directly."
            )
        g_items, g_vars, d_items, d_vars = [], [], [], []
        for item, var in zip(items, variables):
            if id(var) in self._generator_ids:
                g_items.append(item)
                g_vars.append(var)
            else:
                d_items.append(item)
                d_vars.append(var)
        return g_items, g_vars, d_items, d_vars

    def build(self, variables):
        if self.built:
            return
        _, g_vars, _, d_vars = self._split(variables, variables)
        self.generator_optimizer.build(g_vars)
        self.discriminator_optimizer.build(d_vars)
        self._trainable_variables = list(variables)
        self.built = True

    @property
    def variables(self):
        return self.generator_optimizer.variables + self.discriminator_optimizer.variables

    @property
    def iterations(self):
        return self.generator_optimizer.iterations

    @property
    def learning_rate(self):
        return self.generator_optimizer.learning_rate

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:
            trainable_variables = self._trainable_variables
        grads, trainable_variables = list(grads), list(trainable_variables)
        if not self.built:
            self.build(trainable_variables)
        g_grads, g_vars, d_grads, d_vars = self._split(grads, trainable_variables)
        self.generator_optimizer.apply(g_grads, g_vars)
        self.discriminator_optimizer.apply(d_grads, d_vars)

    def apply_gradients(self, grads_and_vars):
        grads, variables = zip(*grads_and_vars)
        self.apply(grads, variables)

    def finalize_variable_values(self, var_list):
        _, g_vars, _, d_vars = self._split(var_list, var_list)
        self.generator_optimizer.finalize_variable_values(g_vars)
        self.discriminator_optimizer.finalize_variable_values(d_vars)

    def get_config(self):
        return {
            "name": self.name,
            "generator_optimizer": keras.optimizers.serialize(self.generator_optimizer),
            "discriminator_optimizer": keras.optimizers.serialize(self.discriminator_optimizer),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("generator_optimizer", "discriminator_optimizer"):
            config[key] = keras.optimizers.deserialize(config[key], custom_objects=custom_objects)
        return cls(**config)
