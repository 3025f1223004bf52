"""Loss maths shared by every backend's train_step (all in float32).

Adversarial: "lsgan" (least squares, the CycleGAN default) or "vanilla"
(the paper's log-likelihood form, as binary cross-entropy on logits).
Cycle and identity: mean absolute error. Temporal "const" penalty (paper
eq. 2): mean over consecutive frame pairs of the mean squared change,
i.e. sum_t ||G(x)_t - G(x)_{t-1}||^2 divided by (T - 1) * pixels, so its
scale does not depend on clip length or resolution.
"""

from keras import ops

GAN_LOSSES = ("lsgan", "vanilla")


def _f32(x):
    return ops.cast(x, "float32")


def check_gan_loss(name):
    if name not in GAN_LOSSES:
        raise ValueError(f"`gan_loss` must be one of {GAN_LOSSES}, got {name!r}.")
    return name


def generator_adversarial_loss(fake_logits, gan_loss="lsgan"):
    """How far the discriminator is from calling the fakes real."""
    fake_logits = _f32(fake_logits)
    if gan_loss == "lsgan":
        return ops.mean(ops.square(fake_logits - 1.0))
    return ops.mean(_bce_with_logits(fake_logits, 1.0))


def discriminator_loss(real_logits, fake_logits, gan_loss="lsgan"):
    """Half the sum of real and fake terms (halved as in CycleGAN)."""
    real_logits, fake_logits = _f32(real_logits), _f32(fake_logits)
    if gan_loss == "lsgan":
        real = ops.mean(ops.square(real_logits - 1.0))
        fake = ops.mean(ops.square(fake_logits))
    else:
        real = ops.mean(_bce_with_logits(real_logits, 1.0))
        fake = ops.mean(_bce_with_logits(fake_logits, 0.0))
    return 0.5 * (real + fake)


def _bce_with_logits(logits, target):
    # max(x, 0) - x * z + log(1 + exp(-|x|)): stable for large |x|.
    return ops.relu(logits) - logits * target + ops.log1p(ops.exp(-ops.abs(logits)))


def l1_loss(x, y):
    return ops.mean(ops.abs(_f32(x) - _f32(y)))


def temporal_penalty(frames, axis):
    """Mean squared change between consecutive entries along `axis` (eq. 2).

    For a 2D sequential batch `axis` is 0 (the batch holds consecutive
    frames); for 3D clips it is 1 (depth). Zero when there is one frame.
    """
    frames = _f32(frames)
    steps = frames.shape[axis]
    if steps is not None and steps < 2:
        return ops.zeros((), "float32")
    index = [slice(None)] * len(frames.shape)
    later, earlier = list(index), list(index)
    later[axis], earlier[axis] = slice(1, None), slice(None, -1)
    diff = frames[tuple(later)] - frames[tuple(earlier)]
    return ops.mean(ops.square(diff))
