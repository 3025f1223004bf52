"""Learning-rate schedule of the reference CycleGAN: hold, then linear decay to zero."""

import keras
from keras import ops

from keras_v2v.models.layers import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class HoldThenLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """`initial_learning_rate` for `hold_steps`, then linearly to 0 over `decay_steps`.

    CycleGAN trains 100 epochs at 2e-4 and 100 more decaying to zero:
    `HoldThenLinearDecay(2e-4, 100 * steps_per_epoch, 100 * steps_per_epoch)`.
    """

    def __init__(self, initial_learning_rate, hold_steps, decay_steps):
        if hold_steps < 0 or decay_steps <= 0:
            raise ValueError(
                "`hold_steps` must be >= 0 and `decay_steps` > 0, got "
                f"hold_steps={hold_steps}, decay_steps={decay_steps}."
            )
        self.initial_learning_rate = float(initial_learning_rate)
        self.hold_steps = int(hold_steps)
        self.decay_steps = int(decay_steps)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        progress = ops.clip((step - self.hold_steps) / self.decay_steps, 0.0, 1.0)
        return self.initial_learning_rate * (1.0 - progress)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "hold_steps": self.hold_steps,
            "decay_steps": self.decay_steps,
        }
