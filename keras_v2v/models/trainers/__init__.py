"""The backend-specific part of CycleGAN's train_step: how gradients are taken.

Each module defines `BackendTrainer`, a mixin whose train_step/test_step call
the model's shared loss methods (`generator_objective`, `pooled_fakes`,
`discriminator_objective`, `record`) and differ only in autodiff mechanics,
and `compiled_forward(network)`, the backend's compiled inference call that
`CycleGAN.translate` caches.
"""

import contextlib

import keras

_BACKEND = keras.backend.backend()


def inference_mode():
    """A context in which forward passes record nothing for autodiff."""
    if _BACKEND == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()

if _BACKEND == "tensorflow":
    from keras_v2v.models.trainers.tensorflow import BackendTrainer, compiled_forward
elif _BACKEND == "jax":
    from keras_v2v.models.trainers.jax import BackendTrainer, compiled_forward
elif _BACKEND == "torch":
    from keras_v2v.models.trainers.torch import BackendTrainer, compiled_forward
else:
    raise ImportError(
        f"keras_v2v supports the tensorflow, jax and torch Keras backends; "
        f"KERAS_BACKEND is {_BACKEND!r}."
    )

__all__ = ["BackendTrainer", "compiled_forward", "inference_mode"]
