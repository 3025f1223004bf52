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


def warp(images, flow):
    """`images` (N, H, W, C) sampled at p + flow[p] (N, H, W, 2: x then y), bilinear, edges repeated.

    Written with gathers so that it is plain `keras.ops` on every backend; the
    gradient reaches `images` (the flow is data).
    """
    images, flow = _f32(images), _f32(flow)
    n, h, w, c = images.shape
    n = ops.shape(images)[0] if n is None else n
    grid_y, grid_x = ops.meshgrid(ops.arange(h, dtype="float32"), ops.arange(w, dtype="float32"), indexing="ij")
    x = ops.clip(grid_x[None] + flow[..., 0], 0.0, w - 1.0)
    y = ops.clip(grid_y[None] + flow[..., 1], 0.0, h - 1.0)
    x0, y0 = ops.floor(x), ops.floor(y)
    wx, wy = (x - x0)[..., None], (y - y0)[..., None]
    x0, y0 = ops.cast(x0, "int32"), ops.cast(y0, "int32")
    x1, y1 = ops.minimum(x0 + 1, w - 1), ops.minimum(y0 + 1, h - 1)
    flat = ops.reshape(images, (-1, c))
    base = ops.reshape(ops.arange(n, dtype="int32") * (h * w), (-1, 1, 1))

    def at(yy, xx):
        return ops.take(flat, ops.reshape(base + yy * w + xx, (-1,)), axis=0)

    top = at(y0, x0) * (1 - ops.reshape(wx, (-1, 1))) + at(y0, x1) * ops.reshape(wx, (-1, 1))
    bottom = at(y1, x0) * (1 - ops.reshape(wx, (-1, 1))) + at(y1, x1) * ops.reshape(wx, (-1, 1))
    out = top * (1 - ops.reshape(wy, (-1, 1))) + bottom * ops.reshape(wy, (-1, 1))
    return ops.reshape(out, (-1, h, w, c))


def warp_loss(clips, flows, masks):
    """Short-term temporal loss (Lai et al. 2018): output frame t warped along the input's flow onto t+1.

    clips (N, T, H, W, C); flows (N, T-1, H, W, 2) mapping frame t+1 back to t;
    masks (N, T-1, H, W, 1), 1 where the pixel is visible in both frames.
    Masked mean absolute difference: change is free where the input moves it there.
    """
    clips, masks = _f32(clips), _f32(masks)
    _, t, h, w, c = clips.shape
    earlier = ops.reshape(clips[:, :-1], (-1, h, w, c))
    later = ops.reshape(clips[:, 1:], (-1, h, w, c))
    warped = warp(earlier, ops.reshape(flows, (-1, h, w, 2)))
    masks = ops.reshape(masks, (-1, h, w, 1))
    return ops.sum(masks * ops.abs(later - warped)) / (ops.sum(masks) * c + 1e-6)
