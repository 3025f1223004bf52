"""One Keras optimizer object that steps the generators and discriminators apart.

Keras trainers (and their saving, loss scaling and JAX state handling) know
one `model.optimizer`. `PairedOptimizer` is that object: it owns a
generator optimizer and a discriminator optimizer, each with its own
hyper-parameters and slots, and routes every gradient to the optimizer of
the network its variable belongs to. Both step once per train_step.
"""

import keras

from keras_v2v.models.layers import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class PairedOptimizer(keras.optimizers.Optimizer):
    """Routes gradients of generator variables and discriminator variables.

    Call `set_generator_variables(vars)` before `build`: every other
    trainable variable is treated as a discriminator variable.
    """

    def __init__(self, generator_optimizer, discriminator_optimizer, name="paired_optimizer", **kwargs):
        kwargs.pop("learning_rate", None)
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        self.generator_optimizer = keras.optimizers.get(generator_optimizer)
        self.discriminator_optimizer = keras.optimizers.get(discriminator_optimizer)
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
