"""The compute floor of a recipe's training step: its multiply-adds over this machine's dense rate.

    python benchmarks/floor.py zoo/mnist-colorize-3d/recipe.toml zoo/mnist-colorize-2d-random/recipe.toml

Multiply-adds are counted from the convolutions a forward pass of each network actually runs
(UpsampleConv's phase-folded kernel, not the upsampled grid it replaces), on one training
batch. A CycleGAN step with the identity loss runs 6 generator forwards, each with a backward
of about twice its multiply-adds (input and weight gradients), the critics 2 forwards with an
input-gradient backward (the generators' adversarial loss) and 4 forwards with a full backward
(their own loss): 18 G + 16 D forward-equivalents; 14 G without the identity loss.
The rates are measured here on TensorFlow: a 2048^3 float32 matmul, and the largest residual-block
convolution of the recipe's generator, forward and backward. floor = 2 * multiply-adds / rate.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _walk(layer):
    yield layer
    for sub in getattr(layer, "_layers", None) or []:
        yield from _walk(sub)


def forward_macs(network, batch_shape):
    """(multiply-adds of one forward pass on `batch_shape`, (input shape, kernel shape) of its largest residual-block conv)."""
    from keras import ops

    seen = []
    for layer in _walk(network):
        if layer is network or getattr(layer, "kernel", None) is None:
            continue
        call = layer.call

        def recording(*args, _call=call, _layer=layer, **kwargs):
            out = _call(*args, **kwargs)
            seen.append((_layer, tuple(args[0].shape), tuple(out.shape)))
            return out

        layer.call = recording
    network(np.zeros(batch_shape, "float32"))
    total, largest = 0, (0, None)
    for layer, in_shape, out_shape in seen:
        if type(layer).__name__ == "UpsampleConv":
            kernel = tuple(ops.convert_to_numpy(layer._phase_kernel()).shape)
            grid = [n + (1 if f == 2 else 0) for n, f in zip(in_shape[1:-1], layer.factors)]
            macs = in_shape[0] * int(np.prod(grid)) * int(np.prod(kernel))
        else:
            kernel = tuple(layer.kernel.shape)
            macs = int(np.prod(out_shape[:-1])) * int(np.prod(kernel))
        total += macs
        # The rate is measured on the residual blocks' convolution (as many channels out as in).
        if type(layer).__name__ != "UpsampleConv" and kernel[-2] == kernel[-1] and macs > largest[0]:
            largest = (macs, (in_shape, kernel))
    for layer in _walk(network):
        layer.__dict__.pop("call", None)
    return total, largest[1]


def _median_seconds(fn, repeats=7):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def rates(conv_shapes):
    """GFLOP/s of a 2048^3 matmul and of a convolution's forward + backward (float32, TensorFlow)."""
    import tensorflow as tf

    a = tf.random.normal((2048, 2048))
    matmul = tf.function(lambda: tf.matmul(a, a))
    gemm = 2 * 2048 ** 3 / _median_seconds(lambda: matmul().numpy()) / 1e9
    in_shape, kernel = conv_shapes
    x = tf.random.normal(in_shape)
    w = tf.random.normal(kernel) * 0.05
    conv = tf.nn.conv3d if len(kernel) == 5 else tf.nn.conv2d
    strides = [1] * len(in_shape)

    @tf.function
    def backward():
        # Only the gradients are fetched: the timing is the three convolutions, not copies out.
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            loss = tf.reduce_sum(conv(x, w, strides, "VALID"))
        return tape.gradient(loss, [x, w])

    macs = int(np.prod(conv(x, w, strides, "VALID").shape[:-1])) * int(np.prod(kernel))
    conv_rate = 3 * 2 * macs / _median_seconds(lambda: [t.numpy() for t in backward()]) / 1e9
    return gemm, conv_rate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipes", nargs="+")
    args = parser.parse_args(argv)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from keras_v2v.training import pipeline, recipes

    for path in args.recipes:
        recipe = recipes.load_recipe(path)
        model = pipeline.build_model(recipe, pipeline.load_data(recipe))
        batch = (pipeline.batch_size(recipe),) + tuple(model.sample_shape)
        g_macs, largest = forward_macs(model.generator_a2b, batch)
        d_macs, _ = forward_macs(model.discriminator_a, batch)
        g_passes = 18 if recipe.training["lambda_identity"] else 14
        step = g_passes * g_macs + 16 * d_macs
        gemm, conv_rate = rates(largest)
        print(f"{path}: batch {batch}; forward multiply-adds: generator {g_macs / 1e9:.3f} G, critic "
              f"{d_macs / 1e9:.3f} G; per step {step / 1e9:.1f} G ({g_passes} G + 16 D forward-equivalents)")
        print(f"  rates: matmul 2048^3 {gemm:.0f} GFLOP/s; residual-block conv {largest[1]} on {largest[0]} forward+backward "
              f"{conv_rate:.0f} GFLOP/s")
        print(f"  floor: {2 * step / gemm / 1e9 * 1e3:.0f} ms a step at the matmul rate, "
              f"{2 * step / conv_rate / 1e9 * 1e3:.0f} ms at the conv rate")


if __name__ == "__main__":
    main()
