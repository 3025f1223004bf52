"""Synthetic street clips: segmentation video (A) <-> rendered RGB video (B).

A stand-in for the GTA / Playing for Benchmarks (VIPER) clips of the paper
(section 5.1) that needs no download: a camera drives forward along a straight
street and a tiny ray caster renders, from one shared geometry,

- domain A: the semantic segmentation, drawn in the class colours of
  :data:`STREET_CLASSES` (exact palette colours, no blending), and
- domain B: an RGB rendering of the same scene: procedural textures fixed to
  world coordinates (so they stream coherently), per-clip lighting and weather
  (sun, overcast, fog, dusk with lit windows and car lights), diffuse shading
  and distance fog.

The scene: a road with lanes converging to the vanishing point, dashed and
solid lane markings streaming towards the viewer, sidewalks, buildings,
hedges and trees on both sides moving outwards, street lamps, sign posts,
and cars driving with and against the camera. Everything is axis-aligned
boxes and ellipsoids, intersected per pixel with numpy.
"""

from __future__ import annotations

import numpy as np

from keras_v2v.data.errors import DataError
from keras_v2v.data.street_render import geometry, shade
from keras_v2v.data.street_scene import (
    BUILDING,
    CAR,
    CLASS_COLOURS,
    CLASS_NAMES,
    LANE,
    POLE,
    ROAD,
    SIDEWALK,
    SIGN,
    SKY,
    STREET_CLASSES,
    VEGETATION,
    WEATHERS,
    make_scene,
)
from keras_v2v.data.synthetic import PairedVideoSet, check_count

# Class ids, in STREET_CLASSES order.
CLASS_IDS = (ROAD, SIDEWALK, BUILDING, VEGETATION, SKY, POLE, SIGN, CAR, LANE)

__all__ = ["CLASS_COLOURS", "CLASS_IDS", "CLASS_NAMES", "STREET_CLASSES", "WEATHERS", "ROAD", "SIDEWALK",
           "BUILDING", "VEGETATION", "SKY", "POLE", "SIGN", "CAR", "LANE", "classes_to_rgb", "render_clip",
           "rgb_to_classes", "synthetic_street"]


def classes_to_rgb(class_map):
    """Colour a class-id map with :data:`STREET_CLASSES`: ``(...)`` -> uint8 ``(..., 3)``."""
    class_map = np.asarray(class_map)
    if not np.issubdtype(class_map.dtype, np.integer):
        raise ValueError(f"`class_map` must hold integer class ids, got dtype {class_map.dtype}.")
    if class_map.size and (class_map.min() < 0 or class_map.max() >= len(STREET_CLASSES)):
        raise ValueError(
            f"`class_map` ids must be in [0, {len(STREET_CLASSES) - 1}], "
            f"got range [{class_map.min()}, {class_map.max()}]."
        )
    return CLASS_COLOURS[class_map]


def rgb_to_classes(rgb, exact=False):
    """Class ids of a palette-coloured map: uint8 ``(..., 3)`` -> uint8 ``(...)``.

    With ``exact=False`` (default) each pixel takes the class of the nearest
    palette colour, so model outputs can be decoded. With ``exact=True`` any
    colour outside the palette raises :class:`~keras_v2v.data.errors.DataError`.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim < 1 or rgb.shape[-1] != 3:
        raise ValueError(f"`rgb` must have a last axis of 3 channels, got shape {rgb.shape}.")
    flat = rgb.reshape(-1, 3)
    out = np.empty(len(flat), np.uint8)
    palette = CLASS_COLOURS.astype(np.int32)
    codes = (palette[:, 0] << 16) | (palette[:, 1] << 8) | palette[:, 2]
    order = np.argsort(codes)
    # Chunks bound the (pixels, classes) distance matrix to ~40 MB.
    step = 1 << 20
    for lo in range(0, len(flat), step):
        chunk = flat[lo : lo + step].astype(np.int32)
        if exact:
            code = (chunk[:, 0] << 16) | (chunk[:, 1] << 8) | chunk[:, 2]
            pos = np.clip(np.searchsorted(codes[order], code), 0, len(codes) - 1)
            found = codes[order][pos] == code
            if not found.all():
                bad = chunk[np.argmin(found)]
                raise DataError(
                    "rgb",
                    f"{np.count_nonzero(~found)} pixels have colours outside STREET_CLASSES, "
                    f"e.g. {tuple(int(c) for c in bad)}; pass exact=False to snap to the "
                    "nearest class",
                )
            out[lo : lo + step] = order[pos]
        else:
            dist = ((chunk[:, None, :] - palette[None]) ** 2).sum(-1)
            out[lo : lo + step] = np.argmin(dist, axis=1)
    return out.reshape(rgb.shape[:-1])


def render_clip(seed, frames=30, height=108, width=192):
    """Render one clip: ``(rgb uint8 (T, H, W, 3), class ids uint8 (T, H, W), weather)``."""
    rng = np.random.default_rng(seed)
    scene = make_scene(rng, frames, height, width)
    buffers = [geometry(scene, t, height, width) for t in range(frames)]
    depth, cls, prim, face, shadow = (np.stack(b) for b in zip(*buffers))
    return shade(scene, depth, cls, prim, face, shadow, height, width), cls, scene.weather


def synthetic_street(n=100, frames=30, height=108, width=192, seed=0):
    """Segmentation <-> RGB street clips (GTA / Playing for Benchmarks stand-in).

    Parameters
    ----------
    n : int
        Number of clips.
    frames : int
        Frames per clip (paper: 30).
    height, width : int
        Frame size (paper: 108 x 192).
    seed : int
        Seed; clip ``i`` depends only on ``(seed, i)``, so a larger ``n``
        extends a smaller one.

    Returns
    -------
    PairedVideoSet
        ``a``: uint8 ``(n, frames, height, width, 3)`` segmentation in
        :data:`STREET_CLASSES` colours; ``b``: the RGB rendering.
        extras: ``class_maps`` uint8 ``(n, frames, height, width)`` class ids
        (``a == classes_to_rgb(class_maps)``), ``weather`` int64 ``(n,)``
        index into :data:`WEATHERS`.
    """
    n = check_count("n", n)
    frames = check_count("frames", frames)
    height = check_count("height", height, 8)
    width = check_count("width", width, 8)
    seeds = np.random.SeedSequence(seed).spawn(n)
    a = np.empty((n, frames, height, width, 3), np.uint8)
    b = np.empty_like(a)
    class_maps = np.empty((n, frames, height, width), np.uint8)
    weather = np.empty(n, np.int64)
    for i, s in enumerate(seeds):
        b[i], class_maps[i], w = render_clip(s, frames, height, width)
        a[i] = CLASS_COLOURS[class_maps[i]]
        weather[i] = WEATHERS.index(w)
    return PairedVideoSet(
        a=a,
        b=b,
        extras={"class_maps": class_maps, "weather": weather},
        domain_a="segmentation",
        domain_b="rgb",
        name="synthetic_street",
    )
