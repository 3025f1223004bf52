"""Volumetric MNIST: digits turned into 3D "scans" by progressive erosion.

Paper, section 5.1 and Fig. 6: each MNIST digit becomes a ``depth x size x
size`` volume whose slices are the digit eroded by a depth-dependent amount.
Two erosion orders give the two domains:

- ``"spherical"`` (domain A): thin, dim slices at both ends and the full,
  bright digit in the middle, like the cross-sections of a sphere
  (rise-then-decay of intensity over depth).
- ``"sandglass"`` (domain B): the full digit at both ends and the thinnest
  slices in the middle, like an hourglass (decay-then-rise).

The names follow the shapes. Fig. 6's caption lists the input domain as
decay-then-rise, which would be the sandglass one; the preset names
(``sph2sand``) and the geometry both say spherical -> sandglass, so we keep
the geometric meaning and the caption's order does not matter for training
(the models are trained both ways).

The key property (paper, section 6: "videos from domain B have the same frames
as videos from domain [A] but in different order"): a sandglass volume is its
spherical pair with the depth axis rolled by half, ``b = a[:, sandglass_order(depth)]``.
Every single slice looks the same in both domains, so a framewise model cannot
tell which one it should produce; only the position in depth can.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from keras_v2v.data.mnist import as_digits, mnist_digits
from keras_v2v.data.synthetic import PairedVideoSet, check_count

# Dimmest slice keeps this share of full brightness, so the global intensity
# pattern is visible and the digit never disappears.
_MIN_BRIGHTNESS = 0.45
# Deepest erosion leaves this share of the digit's thickest stroke.
_MAX_EROSION = 0.7
# The middle of the spherical volume is dilated by this many pixels.
_DILATION = 1.0
# Digits processed together; bounds float memory at ~70 MB for 84x84x30.
_CHUNK = 64


def sandglass_order(depth):
    """Slice order that turns a spherical volume into its sandglass pair.

    ``b = a[:, sandglass_order(depth)]``: a roll by ``depth // 2``, so the
    middle slice moves to the ends and the end slices to the middle.
    """
    depth = check_count("depth", depth, 3)
    return np.roll(np.arange(depth), -(depth // 2))


def erosion_profile(depth):
    """Erosion level in [0, 1] of each spherical slice (0 = full digit).

    Follows the radius of a sphere's cross-section: ``1 - sqrt(1 - u**2)``
    with ``u`` the distance from the middle slice, scaled so the end slices
    reach 1.
    """
    depth = check_count("depth", depth, 3)
    # Sample slice centres so the two end slices sit at |u| slightly below 1.
    u = (np.arange(depth) + 0.5) / depth * 2.0 - 1.0
    level = 1.0 - np.sqrt(np.clip(1.0 - u**2, 0.0, 1.0))
    return level / level.max()


def _signed_distance(images, size):
    """Signed distance (pixels, >0 inside) of each upscaled digit, shape (N, size, size)."""
    scale = size / images.shape[-1]
    up = ndimage.zoom(images.astype(np.float32) / 255.0, (1, scale, scale), order=1)
    up = up[:, :size, :size]
    inside = up > 0.5
    # A huge spacing along axis 0 keeps every nearest neighbour in its own image.
    sampling = (1e6, 1.0, 1.0)
    d_in = ndimage.distance_transform_edt(inside, sampling=sampling)
    d_out = ndimage.distance_transform_edt(~inside, sampling=sampling)
    # Images with no background (or no foreground) would borrow distances across axis 0.
    d_in = np.minimum(d_in, size)
    d_out = np.minimum(d_out, size)
    return np.where(inside, d_in - 0.5, 0.5 - d_out).astype(np.float32)


def _spherical_volumes(images, depth, size):
    sd = _signed_distance(images, size)  # (N, S, S)
    thickest = sd.reshape(len(sd), -1).max(axis=1)  # (N,)
    level = erosion_profile(depth).astype(np.float32)  # (D,)
    # Per-digit erosion radius: from a slight dilation to most of the thickest stroke.
    radius = -_DILATION + level[None, :] * (_DILATION + _MAX_EROSION * thickest[:, None])
    brightness = 1.0 - (1.0 - _MIN_BRIGHTNESS) * level  # (D,)
    # Eroding by r keeps sd > r; the 1-pixel ramp anti-aliases the edge.
    vol = np.clip(sd[:, None] - radius[:, :, None, None] + 0.5, 0.0, 1.0)
    vol *= brightness[None, :, None, None] * 255.0
    return np.rint(vol).astype(np.uint8)


def volumetric_mnist(n=None, depth=30, size=84, seed=0, digits=None):
    """Spherical <-> sandglass volumes of MNIST digits (paper, section 5.1).

    Parameters
    ----------
    n : int or None
        Number of volumes; ``None`` means 1000, or all of ``digits`` when given.
    depth : int
        Slices per volume (paper: 30).
    size : int
        Height and width of each slice (paper: 84, i.e. MNIST upscaled 3x).
    seed : int
        Seed of the digit selection (see :func:`~keras_v2v.data.mnist.mnist_digits`).
    digits : array or (array, array), optional
        Your own digit images ``(M, h, w)`` uint8 (white on black), optionally
        with labels ``(M,)``; the first ``n`` are used. Default: real MNIST.

    Returns
    -------
    PairedVideoSet
        ``a`` spherical and ``b`` sandglass, uint8 ``(n, depth, size, size, 1)``,
        with ``b = a[:, sandglass_order(depth)]``. ``extras["labels"]`` holds
        the digit classes ``(n,)`` (-1 when ``digits`` came without labels).
    """
    depth = check_count("depth", depth, 3)
    size = check_count("size", size, 8)
    if digits is None:
        n = 1000 if n is None else check_count("n", n)
        images, labels = mnist_digits(n, seed=seed)
    else:
        images, labels = as_digits(digits)
        n = len(images) if n is None else check_count("n", n)
        if n > len(images):
            raise ValueError(f"`n`={n} exceeds the {len(images)} images passed in `digits`.")
        images, labels = images[:n], labels[:n]

    a = np.empty((n, depth, size, size, 1), np.uint8)
    for start in range(0, n, _CHUNK):
        a[start : start + _CHUNK, ..., 0] = _spherical_volumes(
            images[start : start + _CHUNK], depth, size
        )
    b = np.ascontiguousarray(a[:, sandglass_order(depth)])
    return PairedVideoSet(
        a=a,
        b=b,
        extras={"labels": np.asarray(labels, np.int64)},
        domain_a="spherical",
        domain_b="sandglass",
        name="volumetric_mnist",
    )
