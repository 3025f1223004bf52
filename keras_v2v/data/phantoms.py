"""Procedural head phantoms: MR-like (A) <-> CT-like (B) volumes of one anatomy.

A stand-in for the MRCT dataset of the paper (section 5.1: 30 x 256 x 256
volumes from the superciliary arches down to the lower jaw). Each head is a
label volume built from ellipsoids and simple solids (head outline,
subcutaneous fat, skull, skull base, brain with grey and white matter, CSF and
ventricles, eyes in orbital fat, nasal cavity and septum, maxillary and
frontal sinuses, pharyngeal airway, cervical spine, mandible with teeth) with
random sizes, positions and head pose. Both domains render the same labels,
so ``b[i]`` is the exact ground truth of ``a[i]``:

- A, MR T1-like: fat bright, white matter brighter than grey matter, CSF,
  bone and air dark; smooth bias field and Rician noise.
- B, CT-like (HU, window -400..1400): bone very bright, air black, soft
  tissues mid grey with little contrast; Gaussian noise.

Slice 0 is the top (superior) slice; rows run anterior (face) to posterior.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from keras_v2v.data.synthetic import PairedVideoSet, check_count

TISSUES = (
    "air",  # 0 outside the head
    "fat",  # 1 subcutaneous and orbital fat
    "soft tissue",  # 2 muscle, skin, tongue, glands
    "bone",  # 3 skull, skull base, orbit rims, septum, mandible, teeth, spine
    "grey matter",  # 4
    "white matter",  # 5
    "csf",  # 6 ventricles, subarachnoid space, spinal canal
    "internal air",  # 7 sinuses, nasal cavity, airway
    "eye",  # 8 vitreous body
)
AIR, FAT, SOFT, BONE, GREY, WHITE, CSF, CAVITY, EYE = range(len(TISSUES))

# Per tissue: T1-weighted MR grey level (0..255) and CT Hounsfield units.
MR_T1 = np.array([0, 235, 95, 22, 112, 165, 35, 4, 45], np.float32)
CT_HU = np.array([-1000, -90, 45, 1200, 38, 26, 8, -950, 12], np.float32)
CT_WINDOW = (-400.0, 1400.0)

# Anatomical half extent along depth, in units where the in-plane FOV is [-1, 1]
# (30 slices of ~3.6 mm under a ~24 cm field of view).
_Z_HALF = 0.45


class _Head:
    """Anatomical coordinates of every voxel, and painting helpers."""

    def __init__(self, rng, depth, size):
        self.depth, self.size = depth, size
        scale = rng.uniform(0.98, 1.1)
        theta = np.radians(rng.uniform(-10, 10))  # in-plane rotation
        tilt = np.radians(rng.uniform(-5, 5))  # nodding
        shift = np.array(
            [rng.uniform(-0.03, 0.03), rng.uniform(-0.04, 0.04), rng.uniform(-0.04, 0.04)]
        )
        # Physical voxel centres (z, y, x).
        pz = ((np.arange(depth) + 0.5) / depth * 2 - 1) * _Z_HALF
        pyx = (np.arange(size) + 0.5) / size * 2 - 1
        # Rotation anatomical -> physical: tilt about x, then in-plane about z.
        ct, st, cp, sp = np.cos(theta), np.sin(theta), np.cos(tilt), np.sin(tilt)
        rot_plane = np.array([[1, 0, 0], [0, ct, -st], [0, st, ct]])
        rot_tilt = np.array([[cp, -sp, 0], [sp, cp, 0], [0, 0, 1]])
        self.rotation = rot_plane @ rot_tilt  # acts on (z, y, x)
        self.scale, self.shift = scale, shift
        inv = self.rotation.T / scale
        # Anatomical coordinates: a = R^T (p - shift) / scale, built separably.
        dz = (pz - shift[0])[:, None, None]
        dy = (pyx - shift[1])[None, :, None]
        dx = (pyx - shift[2])[None, None, :]
        f32 = np.float32
        self.z = (inv[0, 0] * dz + inv[0, 1] * dy + inv[0, 2] * dx).astype(f32)
        self.y = (inv[1, 0] * dz + inv[1, 1] * dy + inv[1, 2] * dx).astype(f32)
        self.x = (inv[2, 0] * dz + inv[2, 1] * dy + inv[2, 2] * dx).astype(f32)
        self.labels = np.zeros((depth, size, size), np.uint8)

    def region(self, centre, half):
        """Voxel slices holding the anatomical ball ``|a - centre| <= half``."""
        p = self.scale * self.rotation @ np.asarray(centre, float) + self.shift
        h = self.scale * half
        extent = np.array([_Z_HALF, 1.0, 1.0])
        count = np.array([self.depth, self.size, self.size])
        # Physical -> voxel index, widened by a voxel on each side for rounding.
        lo = np.floor(((p - h) / extent + 1) / 2 * count) - 1
        hi = np.ceil(((p + h) / extent + 1) / 2 * count) + 1
        lo, hi = np.clip(lo, 0, count).astype(int), np.clip(hi, 0, count).astype(int)
        return tuple(slice(a, b) for a, b in zip(lo, hi))

    def slices_below(self, z_min):
        """Slices holding any voxel with anatomical z > z_min (i.e. lower than it)."""
        reach = self.z.reshape(self.depth, -1).max(axis=1) > z_min
        first = int(np.argmax(reach)) if reach.any() else self.depth
        return np.s_[first:]

    def coords(self, sl):
        # Broadcasting views would be cheaper, but rotation mixes all three axes.
        return self.z[sl], self.y[sl], self.x[sl]

    def radius(self, sl, centre, radii):
        """Ellipsoidal radius (1 on the surface) inside slices ``sl``."""
        z, y, x = self.coords(sl)
        cz, cy, cx = centre
        rz, ry, rx = radii
        return ((z - cz) / rz) ** 2 + ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2

    def ellipsoid(self, centre, radii, tissue, where=None, shell=None):
        """Paint an ellipsoid (or the shell down to ``shell`` times its radii)."""
        sl = self.region(centre, max(radii))
        q = self.radius(sl, centre, radii)
        mask = q <= 1.0
        if shell is not None:
            mask &= q > shell**2
        if where is not None:
            mask &= where[sl]
        self.labels[sl][mask] = tissue
        return sl, mask


def _interp_matrix(n_out, n_in):
    """(n_out, n_in) weights of linear interpolation from n_in samples to n_out."""
    pos = np.linspace(0.0, n_in - 1.0, n_out)
    return np.clip(1.0 - np.abs(pos[:, None] - np.arange(n_in)[None, :]), 0.0, None).astype(
        np.float32
    )


def _smooth_field(rng, shape, cells, amplitude):
    """Smooth random field (bias fields, gyri): coarse noise upsampled separably.

    Three small matrix products, much faster than ``ndimage.zoom`` on 2M voxels.
    """
    field = rng.standard_normal(cells).astype(np.float32) * amplitude
    for axis, (n_out, n_in) in enumerate(zip(shape, cells)):
        field = np.moveaxis(
            np.tensordot(_interp_matrix(n_out, n_in), field, axes=(1, axis)), 0, axis
        )
    return np.ascontiguousarray(field)


def _build_labels(rng, depth, size):
    h = _Head(rng, depth, size)
    z, y, x = h.z, h.y, h.x
    lab = h.labels

    # Head outline: widest at the brow, narrowing towards the jaw.
    ax, ay = rng.uniform(0.58, 0.68), rng.uniform(0.74, 0.84)
    taper = 1.0 - 0.22 * np.clip((z - 0.05) / 0.4, 0.0, 1.0)
    ry, rx = ay * taper, ax * taper
    yc = 0.03
    outline = ((y - yc) / ry) ** 2 + (x / rx) ** 2  # 1 on the skin
    fat_t = rng.uniform(0.025, 0.05)
    bone_t = rng.uniform(0.035, 0.06)
    lab[outline <= 1.0] = FAT
    under_fat = outline <= (1.0 - fat_t / min(ax, ay)) ** 2
    lab[under_fat] = SOFT

    # Cranial cavity above a curved floor: high over the orbits, deeper at the
    # sides (middle fossae) and at the back (posterior fossa), so each slice
    # cuts the skull base along a band rather than a plate.
    floor = (
        rng.uniform(-0.1, 0.0)
        + 0.22 * np.clip((y - 0.05) / 0.5, 0.0, 1.0)
        + 0.14 * (x / ax) ** 2
        - 0.06 * np.clip(-(y + 0.2) / 0.4, 0.0, 1.0)
    )
    k_out = (1.0 - fat_t / min(ax, ay)) ** 2
    k_in = (1.0 - (fat_t + bone_t) / min(ax, ay)) ** 2
    cranium = z < floor
    skull = cranium & (outline <= k_out)
    lab[skull] = BONE
    # Skull base: a bony floor under the brain.
    lab[(z >= floor) & (z < floor + 0.6 * bone_t) & (outline <= k_in)] = BONE
    inner = cranium & (outline <= k_in)
    lab[inner] = CSF
    # Brain a little inside the inner table; gyri as a noisy grey/white boundary.
    csf_t = rng.uniform(0.008, 0.02)
    k_brain = (1.0 - (fat_t + bone_t + csf_t) / min(ax, ay)) ** 2
    brain = cranium & (z < floor - csf_t) & (outline <= k_brain)
    lab[brain] = GREY
    gyri = _smooth_field(rng, lab.shape, (max(depth // 3, 2), 24, 24), 0.05)
    cortex = rng.uniform(0.06, 0.09)
    k_white = (1.0 - (fat_t + bone_t + csf_t + cortex) / min(ax, ay)) ** 2
    lab[brain & (outline + gyri <= k_white) & (z < floor - csf_t - cortex)] = WHITE

    # Ventricles: frontal horns near the top, a thin third ventricle between them.
    vs = rng.uniform(0.6, 1.5)
    vz = rng.uniform(-0.45, -0.35)
    for side in (-1, 1):
        h.ellipsoid((vz, 0.0, side * 0.08 * vs**0.5), (0.12, 0.22, 0.045 * vs), CSF, where=brain)
    h.ellipsoid((vz + 0.12, 0.05, 0.0), (0.1, 0.12, 0.012 * vs), CSF, where=brain)

    # Eyes in orbital fat, with a bony orbit rim.
    ez, ex = rng.uniform(-0.18, -0.06), rng.uniform(0.24, 0.3)
    er = rng.uniform(0.095, 0.11)
    ey = -ay + 0.05 + er
    soft_face = (lab == SOFT) | (lab == FAT)
    orbit_room = ~brain & (outline <= 1.0)
    for side in (-1, 1):
        c = (ez, ey + 0.08, side * ex)
        h.ellipsoid(c, (0.19, 0.2, 0.19), BONE, where=orbit_room & (outline <= k_out), shell=0.85)
        h.ellipsoid(c, (0.16, 0.17, 0.16), FAT, where=orbit_room)
        h.ellipsoid((ez, ey, side * ex), (er, er, er), EYE, where=orbit_room)

    # Frontal sinus in the brow, when present.
    if rng.random() < 0.8:
        fs = rng.uniform(0.6, 1.3)
        h.ellipsoid((-0.38, -ay + 0.1, 0.0), (0.06 * fs, 0.04, 0.1 * fs), CAVITY, where=skull)

    # Maxillary sinuses below the orbits, in thin bony walls.
    ms = rng.uniform(0.8, 1.2)
    for side in (-1, 1):
        c = (rng.uniform(0.15, 0.22), -ay * 0.5, side * 0.2)
        r = (0.12 * ms, 0.13 * ms, 0.11 * ms)
        h.ellipsoid(c, r, BONE, where=soft_face, shell=0.8)
        h.ellipsoid(c, tuple(v * 0.8 for v in r), CAVITY, where=soft_face)

    # Below the brow only: restrict the face and neck to the slices that reach it.
    low = h.slices_below(ez - 0.02)
    z, y, x, lab, cranium, soft_face = (
        z[low],
        y[low],
        x[low],
        lab[low],
        cranium[low],
        soft_face[low],
    )

    # Nasal cavity with a bony septum, opening into the pharyngeal airway.
    nose = (
        (np.abs(x) < 0.07)
        & (y > -ay + 0.06)
        & (y < -0.2)
        & (z > ez - 0.02)
        & (z < 0.33)
        & soft_face
    )
    lab[nose] = CAVITY
    lab[nose & (np.abs(x - rng.uniform(-0.01, 0.01)) < 0.012)] = BONE
    airway = rng.uniform(0.04, 0.07)
    pharynx = ((y - 0.12) / (airway * 1.3)) ** 2 + (x / airway) ** 2 <= 1.0
    lab[pharynx & (z > 0.1) & ~cranium & (lab != BONE)] = CAVITY

    # Cervical spine: vertebral body and canal behind the airway.
    neck = (z > 0.12) & ~cranium
    body = ((y - 0.33) / 0.09) ** 2 + (x / 0.1) ** 2 <= 1.0
    canal = ((y - 0.48) / 0.05) ** 2 + (x / 0.05) ** 2 <= 1.0
    ring = ((y - 0.48) / 0.09) ** 2 + (x / 0.09) ** 2 <= 1.0
    lab[(body | ring) & neck] = BONE
    lab[canal & neck] = CSF

    # Mandible (a horseshoe of bone) with teeth along its arch, in the lowest slices.
    jaw_z = rng.uniform(0.26, 0.33)
    arch_out = ((y + 0.05) / (ay * 0.78)) ** 2 + (x / (ax * 0.78)) ** 2
    jaw = (z > jaw_z) & (arch_out <= 1.0) & (arch_out > 0.72) & (y < 0.18)
    lab[jaw] = BONE
    teeth = (
        (z > jaw_z - 0.06) & (z < jaw_z + 0.04) & (arch_out <= 0.8) & (arch_out > 0.6) & (y < 0.0)
    )
    lab[teeth] = BONE
    return h.labels


def _render(rng, labels, table, noise, bias=None, rician=False):
    """Tissue table lookup with per-subject jitter, partial-volume blur and noise."""
    jitter = table * rng.uniform(0.95, 1.05, size=table.shape).astype(np.float32)
    vol = jitter[labels]
    # Partial volume: a thin in-plane blur softens the staircase edges.
    vol = ndimage.gaussian_filter(vol, sigma=(0.0, 0.7, 0.7), mode="nearest", truncate=2.5)
    if bias is not None:
        vol *= bias
    if rician:
        # Magnitude of a complex signal with Gaussian noise: dark regions stay positive.
        n1 = rng.standard_normal(vol.shape, dtype=np.float32) * noise
        n2 = rng.standard_normal(vol.shape, dtype=np.float32) * noise
        vol = np.sqrt((vol + n1) ** 2 + n2**2)
    else:
        vol += rng.standard_normal(vol.shape, dtype=np.float32) * noise
    return vol


def head_phantoms(n=20, depth=30, size=256, seed=0):
    """MR (A) <-> CT (B) head phantoms rendered from the same labels.

    Parameters
    ----------
    n : int
        Number of heads.
    depth : int
        Slices per volume, top (superior) first (paper: 30). The anatomy covers
        the same brow-to-jaw range whatever the depth.
    size : int
        Height and width of each slice (paper: 256).
    seed : int
        Seed; head ``i`` depends only on ``(seed, i)``.

    Returns
    -------
    PairedVideoSet
        ``a`` MR-like and ``b`` CT-like, uint8 ``(n, depth, size, size, 1)``.
        ``extras["labels"]``: uint8 ``(n, depth, size, size)`` ids into
        :data:`TISSUES`.
    """
    n = check_count("n", n)
    depth = check_count("depth", depth, 2)
    size = check_count("size", size, 16)
    a = np.empty((n, depth, size, size, 1), np.uint8)
    b = np.empty_like(a)
    labels = np.empty((n, depth, size, size), np.uint8)
    lo, hi = CT_WINDOW
    for i, child in enumerate(np.random.SeedSequence(seed).spawn(n)):
        rng = np.random.default_rng(child)
        lab = _build_labels(rng, depth, size)
        labels[i] = lab
        bias = 1.0 + _smooth_field(rng, lab.shape, (2, 3, 3), 0.08)
        mr = _render(rng, lab, MR_T1 * rng.uniform(0.9, 1.05), noise=3.0, bias=bias, rician=True)
        ct = _render(rng, lab, CT_HU, noise=10.0)
        a[i, ..., 0] = np.clip(mr + 0.5, 0, 255).astype(np.uint8)
        b[i, ..., 0] = np.clip((ct - lo) / (hi - lo) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return PairedVideoSet(
        a=a,
        b=b,
        extras={"labels": labels},
        domain_a="mr",
        domain_b="ct",
        name="head_phantoms",
    )
