"""The generator as it is exported: a rebuilt copy with the input shape and dtype asked for.

Imports Keras; `keras_v2v.serving.exporter` loads it only when exporting.
"""

import copy

import keras
from keras import ops


def _keep_static_sizes(layer_class):
    """An upsampling layer whose output keeps every size known when the graph is traced.

    Keras' nearest upsampling is `ops.repeat`, which in a TensorFlow graph
    forgets the sizes of all axes; TensorFlow's LiteRT converter then leaves
    the next Conv2D to the Flex delegate ("'tf.Conv2D' op is neither a custom
    op nor a flex op"), which ai-edge-litert cannot run. A reshape to the
    sizes that are known (channels always; the rest when the export is static)
    restores them. Same values, same weights (it has none).
    """

    class KeepStaticSizes(layer_class):
        def call(self, inputs):
            outputs = super().call(inputs)
            known = self.compute_output_shape(tuple(inputs.shape))
            # Unknown sizes from the input's (tf2onnx folds the shape of the repeat's output wrongly).
            factors = (1, *self.size, 1)
            sizes = [ops.shape(inputs)[i] * f if s is None else s for i, (s, f) in enumerate(zip(known, factors))]
            return ops.reshape(outputs, sizes)

    KeepStaticSizes.__name__ = layer_class.__name__
    return KeepStaticSizes


SERVING_LAYERS = {
    "UpSampling2D": _keep_static_sizes(keras.layers.UpSampling2D),
    "UpSampling3D": _keep_static_sizes(keras.layers.UpSampling3D),
}


def _retarget_dtype(config, dtype):
    """Every dtype (policy or tensor dtype) in a serialized model -> `dtype`."""
    if isinstance(config, dict):
        out = {}
        for key, value in config.items():
            if key == "dtype" and (isinstance(value, str) or
                                   (isinstance(value, dict) and value.get("class_name") == "DTypePolicy")):
                value = dtype
            out[key] = _retarget_dtype(value, dtype)
        return out
    if isinstance(config, list):
        return [_retarget_dtype(v, dtype) for v in config]
    return config


def serving_copy(generator, shape, dtype="float32"):
    """The generator rebuilt for export: input (None, *shape), every layer computing in `dtype`.

    A copy, because the generators are built with a fully dynamic input, and
    because a model trained under mixed precision computes in float16 or
    bfloat16 (Keras' ONNX export needs float32 policies, and LiteRT leaves
    float16 convolutions to TensorFlow's Flex delegate). The weights are
    float32 variables under mixed precision, so the float32 copy loses nothing.
    """
    config = _retarget_dtype(copy.deepcopy(generator.get_config()), dtype)
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            layer["config"]["batch_shape"] = [None] + list(shape)
        if layer["class_name"] in SERVING_LAYERS:
            layer["registered_name"] = layer["class_name"]  # looked up in custom_objects first
    rebuilt = keras.Model.from_config(config, custom_objects=SERVING_LAYERS)
    rebuilt.set_weights(generator.get_weights())
    return rebuilt


def training_policies(generator):
    return sorted({layer.dtype_policy.name for layer in generator.layers if layer.weights})
