"""Reflection padding with each backend's own kernel.

Everything else in `models` is written once with `keras.ops`; padding is the
exception because its `keras.ops` composition (slice, flip, concatenate per
axis) took a quarter of the 3D train step's op time on TensorFlow/CPU, and
each backend has a native reflect pad: `tf.pad(mode="REFLECT")`,
`jnp.pad(mode="reflect")`, and torch's `reflection_pad{1,2,3}d`, which pads
the trailing axes of a channels-first tensor.

Instance norm has a hand-written backward on torch (an autograd Function) and
on TensorFlow (`tf.custom_gradient`): differentiating the `keras.ops` form
replays every elementwise op of the moments and the affine in the gradient
graph, where the closed form needs two reductions and two multiply-adds, so
the train step's graph has fewer (full-size) ops.
"""

import math

import keras
from keras import ops


def _check(x, pads):
    for axis, pad in enumerate(pads, start=1):
        size = x.shape[axis]
        if size is not None and pad >= size:
            raise ValueError(
                f"Reflection padding of {pad} needs more than {pad} entries along "
                f"axis {axis}, got {size} (shape {tuple(x.shape)})."
            )


def reflect_pad(x, pads):
    """Mirror-pads spatial axis i of a channels-last `x` by `pads[i]` on each side (no edge repeat)."""
    pads = tuple(int(p) for p in pads)
    if not any(pads):
        return x
    _check(x, pads)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.pad(x, [[0, 0]] + [[p, p] for p in pads] + [[0, 0]], mode="REFLECT")
    if backend == "jax":
        import jax.numpy as jnp

        return jnp.pad(x, [(0, 0)] + [(p, p) for p in pads] + [(0, 0)], mode="reflect")
    if backend == "torch":
        import torch.nn.functional as F

        # F.pad lists (before, after) pairs from the last axis backwards.
        flat = [p for pad in reversed(pads) for p in (pad, pad)]
        return F.pad(ops.moveaxis(x, -1, 1), flat, mode="reflect").movedim(1, -1)
    return _reflect_pad_ops(x, pads)


def _reflect_pad_ops(x, pads):
    """The same with keras.ops only (other backends; the reference in tests)."""
    for axis, pad in enumerate(pads, start=1):
        if not pad:
            continue
        index = [slice(None)] * len(x.shape)

        def part(start, stop):
            index[axis] = slice(start, stop)
            return x[tuple(index)]

        before = ops.flip(part(1, pad + 1), axis=axis)
        after = ops.flip(part(-pad - 1, -1), axis=axis)
        x = ops.concatenate([before, x, after], axis=axis)
    return x


def edge_pad(x, pads):
    """Repeats the edge entry `pads[i]` times on each side of spatial axis i (numpy's mode="edge")."""
    pads = tuple(int(p) for p in pads)
    if not any(pads):
        return x
    backend = keras.backend.backend()
    if backend == "tensorflow" and max(pads) == 1:
        import tensorflow as tf

        # SYMMETRIC repeats the edge itself, which for one entry is edge padding.
        return tf.pad(x, [[0, 0]] + [[p, p] for p in pads] + [[0, 0]], mode="SYMMETRIC")
    if backend == "jax":
        import jax.numpy as jnp

        return jnp.pad(x, [(0, 0)] + [(p, p) for p in pads] + [(0, 0)], mode="edge")
    if backend == "torch":
        import torch.nn.functional as F

        flat = [p for pad in reversed(pads) for p in (pad, pad)]
        return F.pad(ops.moveaxis(x, -1, 1), flat, mode="replicate").movedim(1, -1)
    for axis, pad in enumerate(pads, start=1):
        if pad:
            first = ops.repeat(ops.take(x, [0], axis=axis), pad, axis=axis)
            last = ops.repeat(ops.take(x, [x.shape[axis] - 1], axis=axis), pad, axis=axis)
            x = ops.concatenate([first, x, last], axis=axis)
    return x


_TORCH_INSTANCE_NORM = None


def _torch_instance_norm():
    """A torch autograd Function: instance norm with a hand-written backward.

    Forward: the moments and one fused multiply-add (`addcmul`).
    Backward: two reductions and two fused multiply-adds, where autograd on the
    `keras.ops` form replays every elementwise op of the moments and the affine.
    """
    global _TORCH_INSTANCE_NORM
    if _TORCH_INSTANCE_NORM is not None:
        return _TORCH_INSTANCE_NORM
    import torch

    class InstanceNorm(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, gamma, beta, epsilon, axes):
            # E[x^2] - E[x]^2 as keras.ops.moments computes it (torch.var_mean reduces
            # the non-innermost axes of a channels-last tensor 10-100x slower).
            mean = x.mean(dim=axes, keepdim=True)
            variance = torch.square(x).mean(dim=axes, keepdim=True) - torch.square(mean)
            rstd = torch.rsqrt(variance + epsilon)
            scale = rstd if gamma is None else rstd * gamma
            shift = -mean * scale
            if beta is not None:
                shift = shift + beta
            ctx.axes, ctx.has_gamma, ctx.has_beta = axes, gamma is not None, beta is not None
            ctx.save_for_backward(x, mean, rstd, scale)
            return torch.addcmul(shift, x, scale)

        @staticmethod
        def backward(ctx, grad):
            x, mean, rstd, scale = ctx.saved_tensors
            axes = ctx.axes
            count = 1
            for axis in axes:
                count *= x.shape[axis]
            # With xhat = (x - mean) * rstd: sum(g) and sum(g * xhat) per sample and channel.
            sum_g = grad.sum(dim=axes, keepdim=True)
            sum_gxhat = ((grad * x).sum(dim=axes, keepdim=True) - mean * sum_g) * rstd
            grad_x = None
            if ctx.needs_input_grad[0]:
                # scale * (g - sum_g / n - xhat * sum_gxhat / n), as a * g + (b * x + c).
                b = -scale * rstd * sum_gxhat / count
                c = -scale * sum_g / count - b * mean
                grad_x = torch.addcmul(torch.addcmul(c, b, x), scale, grad)
            batch_axes = tuple(range(x.ndim - 1))
            grad_gamma = sum_gxhat.sum(dim=batch_axes) if ctx.has_gamma and ctx.needs_input_grad[1] else None
            grad_beta = sum_g.sum(dim=batch_axes) if ctx.has_beta and ctx.needs_input_grad[2] else None
            return grad_x, grad_gamma, grad_beta, None, None

    _TORCH_INSTANCE_NORM = InstanceNorm
    return InstanceNorm


def _tf_instance_norm(x, gamma, beta, epsilon, axes):
    """Instance norm as a `tf.custom_gradient`: the torch Function's forward and backward in TF ops.

    The moments are `tf.nn.moments`' (what `keras.ops.moments` runs on TensorFlow:
    the mean, then the mean squared difference from it), so the values are the
    keras.ops form's. First-order gradients only (no gradient of the gradient).
    """
    import tensorflow as tf

    axes = [int(a) for a in axes]
    has_gamma, has_beta = gamma is not None, beta is not None
    # Tensors, not variables: a custom gradient would otherwise need `variables=`. The tape
    # still reaches a variable through its read (and the layer's cast).
    params = [tf.convert_to_tensor(t) for t in (gamma, beta) if t is not None]

    @tf.custom_gradient
    def norm(x, *params):
        rest = list(params)
        gamma = rest.pop(0) if has_gamma else None
        beta = rest.pop(0) if has_beta else None
        mean = tf.reduce_mean(x, axis=axes, keepdims=True)
        variance = tf.reduce_mean(tf.math.squared_difference(x, mean), axis=axes, keepdims=True)
        rstd = tf.math.rsqrt(variance + epsilon)
        scale = rstd if gamma is None else rstd * gamma
        shift = -mean * scale
        if beta is not None:
            shift = shift + beta

        def grad(upstream):
            sizes = [x.shape[a] for a in axes]
            if all(s is not None for s in sizes):
                count = float(math.prod(sizes))
            else:  # a spatial size unknown at trace time
                count = tf.cast(tf.reduce_prod(tf.gather(tf.shape(x), axes)), x.dtype)
            # With xhat = (x - mean) * rstd: sum(g) and sum(g * xhat) per sample and channel.
            sum_g = tf.reduce_sum(upstream, axis=axes, keepdims=True)
            sum_gxhat = (tf.reduce_sum(upstream * x, axis=axes, keepdims=True) - mean * sum_g) * rstd
            # scale * (g - sum_g / n - xhat * sum_gxhat / n), as a * g + (b * x + c).
            b = -scale * rstd * sum_gxhat / count
            c = -scale * sum_g / count - b * mean
            grads = [upstream * scale + (x * b + c)]
            batch_axes = list(range(len(x.shape) - 1))
            if has_gamma:
                grads.append(tf.reduce_sum(sum_gxhat, axis=batch_axes))
            if has_beta:
                grads.append(tf.reduce_sum(sum_g, axis=batch_axes))
            return grads

        return x * scale + shift, grad

    return norm(x, *params)


def instance_norm(x, gamma, beta, epsilon, axes):
    """The backend's own instance norm of a float32 channels-last `x` over `axes`, or None (use keras.ops).

    `gamma`, `beta`: per-channel tensors or None. On torch a fused autograd Function,
    on TensorFlow a custom gradient (the same values and gradients as the keras.ops
    form, to float rounding).
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tf_instance_norm(x, gamma, beta, float(epsilon), tuple(axes))
    if backend != "torch":
        return None
    return _torch_instance_norm().apply(x, gamma, beta, float(epsilon), tuple(axes))
