"""Coloured moving MNIST: white bouncing digits -> the same digits in colour.

Paper, section 5.1 ("Colorization of moving MNIST digits"): domain A holds
Moving-MNIST-style clips (Srivastava et al., 2015) of white digits bouncing
inside the frame; domain B shows the same motion with the digit painted in
one of 20 colours that stays constant through the clip. A framewise model
can colour each frame plausibly but not keep one colour over time.
"""

from __future__ import annotations

import numpy as np

from keras_v2v.data.mnist import as_digits, mnist_digits
from keras_v2v.data.synthetic import PairedVideoSet, check_count

# 20 clearly distinct, saturated-enough colours (after Sasha Trubetskoy's
# "20 distinct colours", without white, black, grey and beige, which would be
# indistinguishable from domain A's white or from the background, plus a dark
# green and an indigo). Row i is colour index i.
DIGIT_COLOURS = np.array(
    [
        (230, 25, 75),  # 0 red
        (60, 180, 75),  # 1 green
        (255, 225, 25),  # 2 yellow
        (67, 99, 216),  # 3 blue
        (245, 130, 49),  # 4 orange
        (145, 30, 180),  # 5 purple
        (66, 212, 244),  # 6 cyan
        (240, 50, 230),  # 7 magenta
        (191, 239, 69),  # 8 lime
        (250, 190, 212),  # 9 pink
        (70, 153, 144),  # 10 teal
        (220, 190, 255),  # 11 lavender
        (154, 99, 36),  # 12 brown
        (128, 0, 0),  # 13 maroon
        (170, 255, 195),  # 14 mint
        (128, 128, 0),  # 15 olive
        (255, 216, 177),  # 16 apricot
        (0, 0, 117),  # 17 navy
        (0, 110, 40),  # 18 dark green
        (75, 0, 130),  # 19 indigo
    ],
    dtype=np.uint8,
)
DIGIT_COLOURS.flags.writeable = False

_DIGIT = 28
# Speeds in pixels per frame; with 84-pixel frames a digit bounces 1-3 times in 30 frames.
_SPEED_RANGE = (2.0, 5.0)


def bounce(start, velocity, frames, limit):
    """Positions of points bouncing between 0 and ``limit`` (reflecting walls).

    Parameters
    ----------
    start, velocity : numpy.ndarray
        Same-shaped arrays of initial positions (in ``[0, limit]``) and
        per-frame velocities.
    frames : int
        Number of time steps.
    limit : float
        Upper wall; 0 is the lower one.

    Returns
    -------
    numpy.ndarray
        float array ``start.shape + (frames,)``.
    """
    t = np.arange(frames)
    travel = start[..., None] + velocity[..., None] * t
    if limit <= 0:
        return np.zeros_like(travel)
    # Unfold the reflections: a triangle wave of period 2 * limit.
    folded = np.mod(travel, 2.0 * limit)
    return limit - np.abs(folded - limit)


def coloured_moving_mnist(n=1000, frames=30, size=84, digits_per_clip=1, seed=0, digits=None):
    """White bouncing MNIST digits (A) and the same clips in colour (B).

    Parameters
    ----------
    n : int
        Number of clips.
    frames : int
        Frames per clip (paper: 30).
    size : int
        Frame height and width, at least 29 so digits (28x28) can move.
    digits_per_clip : int
        Digits per clip. All digits of a clip share its colour; where they
        overlap the brighter pixel wins.
    seed : int
        Seed of digit choice, start positions, velocities and colours.
    digits : array or (array, array), optional
        Your own ``(M, 28, 28)`` uint8 digit images (and labels), used in order;
        needs ``M >= n * digits_per_clip``. Default: real MNIST.

    Returns
    -------
    PairedVideoSet
        ``a``: uint8 ``(n, frames, size, size, 3)`` grey digits (R = G = B);
        ``b``: the same with each digit pixel scaled to the clip's colour,
        ``b = round(a * DIGIT_COLOURS[colour_index] / 255)``.
        extras: ``masks`` bool ``(n, frames, size, size)`` (A's nonzero pixels),
        ``colour_index`` int64 ``(n,)`` into :data:`DIGIT_COLOURS`,
        ``labels`` int64 ``(n, digits_per_clip)``, ``positions`` int64
        ``(n, digits_per_clip, frames, 2)`` top-left (row, col) of each digit.
    """
    n = check_count("n", n)
    frames = check_count("frames", frames)
    size = check_count("size", size, _DIGIT + 1)
    k = check_count("digits_per_clip", digits_per_clip)
    rng = np.random.default_rng(seed)
    if digits is None:
        images, labels = mnist_digits(n * k, seed=int(rng.integers(2**31)))
    else:
        images, labels = as_digits(digits)
        if images.shape[1:] != (_DIGIT, _DIGIT):
            raise ValueError(f"`digits` must be 28x28 images, got shape {images.shape}.")
        if len(images) < n * k:
            raise ValueError(
                f"`digits` holds {len(images)} images, need n * digits_per_clip = {n * k}."
            )
    images = images[: n * k].reshape(n, k, _DIGIT, _DIGIT)
    labels = np.asarray(labels[: n * k], np.int64).reshape(n, k)

    limit = size - _DIGIT
    start = rng.uniform(0.0, limit, size=(n, k, 2))
    angle = rng.uniform(0.0, 2.0 * np.pi, size=(n, k))
    speed = rng.uniform(*_SPEED_RANGE, size=(n, k))
    velocity = np.stack([np.sin(angle), np.cos(angle)], axis=-1) * speed[..., None]
    # (n, k, 2, frames) -> (n, k, frames, 2); rounding keeps digits pixel-exact.
    positions = np.rint(bounce(start, velocity, frames, limit)).astype(np.int64)
    positions = np.clip(positions.transpose(0, 1, 3, 2), 0, limit)
    colour_index = rng.integers(0, len(DIGIT_COLOURS), size=n)

    # Per-colour lookup tables: b = round(grey * colour / 255) as one gather.
    luts = (
        np.arange(256)[None, :, None] * DIGIT_COLOURS[:, None, :].astype(np.uint32) + 127
    ) // 255
    luts = luts.astype(np.uint8)  # (20, 256, 3)
    a = np.empty((n, frames, size, size, 3), np.uint8)
    b = np.empty_like(a)
    masks = np.empty((n, frames, size, size), bool)
    time = np.arange(frames)[:, None, None]
    offs = np.arange(_DIGIT)
    grey = np.empty((frames, size, size), np.uint8)
    for i in range(n):
        grey[...] = 0
        for j in range(k):
            rows = positions[i, j, :, 0][:, None, None] + offs[None, :, None]
            cols = positions[i, j, :, 1][:, None, None] + offs[None, None, :]
            # Same digit in every frame; max() merges overlapping digits.
            grey[time, rows, cols] = np.maximum(grey[time, rows, cols], images[i, j][None])
        a[i] = grey[..., None]
        b[i] = luts[colour_index[i]][grey]
        np.greater(grey, 0, out=masks[i])
    return PairedVideoSet(
        a=a,
        b=b,
        extras={
            "masks": masks,
            "colour_index": colour_index.astype(np.int64),
            "labels": labels,
            "positions": positions,
        },
        domain_a="white",
        domain_b="coloured",
        name="coloured_moving_mnist",
    )
