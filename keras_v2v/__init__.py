"""keras-v2v: unsupervised video-to-video translation for Keras 3.

The paper's 3D CycleGAN and its framewise 2D baselines, trainable with
`model.fit` on the TensorFlow, JAX and PyTorch backends.

Importing this package is cheap: the names below load their subpackage on
first use, so `keras_v2v.data`, `keras_v2v.evaluation` and the `keras-v2v`
command's listing verbs never import a Keras backend. Keras still finds
keras-v2v's layers when it loads a preset or checkpoint: they are registered
as soon as Keras itself is imported (see `_register_when_keras_loads`).
"""

import importlib
import importlib.abc
import importlib.util
import os
import sys

# TensorFlow is the default backend here (JAX's Conv3D is slow on CPU);
# an explicit KERAS_BACKEND always wins.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

# Public name -> the module that defines it.
_PUBLIC = {
    "CycleGAN": "keras_v2v.models",
    "cyclegan_2d": "keras_v2v.models",
    "cyclegan_3d": "keras_v2v.models",
    "HistoryPool": "keras_v2v.models",
    "inflate": "keras_v2v.models",
    "from_reference_checkpoint": "keras_v2v.models",
    "reference_resnet_generator": "keras_v2v.models",
    "HoldThenLinearDecay": "keras_v2v.models",
    "InstanceNormalization": "keras_v2v.models",
    "ReflectionPadding": "keras_v2v.models",
    "ResidualBlock": "keras_v2v.models",
    "patchgan_discriminator": "keras_v2v.models",
    "resnet_generator": "keras_v2v.models",
    "from_pretrained": "keras_v2v.presets",
    "list_pretrained": "keras_v2v.presets",
}
_SUBPACKAGES = ("data", "models", "training", "presets", "evaluation", "metrics", "cli", "demo", "serving")

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC) | set(_SUBPACKAGES))


class _ThenRegister(importlib.abc.Loader):
    """Keras' own loader, followed by the import of keras_v2v.models (which registers our classes)."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        importlib.import_module("keras_v2v.models")

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _KerasImportWatcher(importlib.abc.MetaPathFinder):
    """Finds `keras` like the normal finders do, wrapping its loader once."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenRegister(spec.loader)
        return spec


def _register_when_keras_loads():
    """Registers keras-v2v's serializable classes with Keras, without importing Keras first.

    `keras.saving.load_model` finds custom classes by registered name only, so
    they must be registered before a preset is read; importing Keras here would
    cost every light command several seconds of backend start-up instead.
    """
    if "keras" in sys.modules:
        importlib.import_module("keras_v2v.models")
    elif not any(isinstance(finder, _KerasImportWatcher) for finder in sys.meta_path):
        sys.meta_path.insert(0, _KerasImportWatcher())


_register_when_keras_loads()
