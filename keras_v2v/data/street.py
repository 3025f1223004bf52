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

import dataclasses

import numpy as np

from keras_v2v.data.errors import DataError
from keras_v2v.data.synthetic import PairedVideoSet, check_count

# (name, RGB) per class id. Colours are VIPER's (Playing for Benchmarks, which
# shares them with Cityscapes) where VIPER has the class; "pole" is VIPER's
# "infrastructure" colour (= Cityscapes "pole"); VIPER has no lane-marking
# class (it labels them road), so that one takes Mapillary Vistas'
# "lane marking - general" white.
STREET_CLASSES = (
    ("road", (128, 64, 128)),
    ("sidewalk", (244, 35, 232)),
    ("building", (70, 70, 70)),
    ("vegetation", (35, 142, 35)),
    ("sky", (70, 130, 180)),
    ("pole", (153, 153, 153)),
    ("traffic sign", (220, 220, 0)),
    ("car", (0, 0, 142)),
    ("lane marking", (255, 255, 255)),
)
CLASS_NAMES = tuple(name for name, _ in STREET_CLASSES)
CLASS_COLOURS = np.array([rgb for _, rgb in STREET_CLASSES], np.uint8)
CLASS_COLOURS.flags.writeable = False
ROAD, SIDEWALK, BUILDING, VEGETATION, SKY, POLE, SIGN, CAR, LANE = range(len(STREET_CLASSES))

WEATHERS = ("sun", "overcast", "fog", "dusk")

# Surface kinds that the shader treats differently.
_PLAIN, _FACADE, _CAR, _GLASS, _SIGN, _FOLIAGE, _LAMP, _TRUNK = range(8)
# Texture contrast (fine 0.1 m grain, coarse 1.25 m blotches) per surface kind...
_KIND_TEXTURE = {
    _PLAIN: (0.1, 0.1),
    _FACADE: (0.12, 0.2),
    _CAR: (0.02, 0.0),
    _GLASS: (0.02, 0.0),
    _SIGN: (0.03, 0.0),
    _FOLIAGE: (0.8, 0.5),
    _LAMP: (0.05, 0.0),
    _TRUNK: (0.4, 0.2),
}
# ...and per ground class.
_GROUND_TEXTURE = {
    ROAD: (0.35, 0.25),
    SIDEWALK: (0.15, 0.15),
    VEGETATION: (0.6, 0.4),
    LANE: (0.2, 0.1),
}
# Face codes in the geometry buffers.
_FACE_X, _FACE_Y, _FACE_Z, _FACE_ELLIPSOID, _FACE_GROUND, _FACE_SKY = range(6)

_NEAR = 0.3  # metres; nothing closer to the camera is drawn
_FAR = 120.0  # objects beyond this are skipped (fog hides them anyway)
_MARKING_RANGE = 60.0  # lane markings beyond this would only alias


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


# --------------------------------------------------------------------------- scene


@dataclasses.dataclass
class _Scene:
    """Everything one clip needs; world axes X right, Y up, Z forward (metres)."""

    # Primitives: boxes first, then ellipsoids. lo/hi are box bounds; for
    # ellipsoids lo is the centre and hi the radii.
    lo: np.ndarray  # (P, 3)
    hi: np.ndarray  # (P, 3)
    n_boxes: int
    vz: np.ndarray  # (P,) metres per frame along Z (cars)
    cls: np.ndarray  # (P,) class ids
    kind: np.ndarray  # (P,) surface kinds
    colour: np.ndarray  # (P, 3) float base colours 0..1
    facing: np.ndarray  # (P,) cars: +1 front seen (oncoming), -1 rear seen; signs: +1 face seen
    # Camera per frame.
    cam: np.ndarray  # (T, 3)
    cx: np.ndarray  # (T,) principal point (pixels)
    cy: np.ndarray  # (T,)
    focal: float
    # Road layout.
    road_half: float
    sidewalk: float
    markings: list  # (x, half width, dashed, yellow, dash offset)
    # Appearance.
    weather: str
    noise: np.ndarray  # (256, 256) smooth tileable noise in [0, 1]
    asphalt: np.ndarray
    pavement: np.ndarray
    grass: np.ndarray
    light: dict


_BUILDING_COLOURS = np.array(
    [
        (0.72, 0.66, 0.56),  # sandstone
        (0.58, 0.33, 0.25),  # brick
        (0.62, 0.62, 0.60),  # concrete
        (0.82, 0.80, 0.76),  # white render
        (0.45, 0.40, 0.36),  # dark brown
        (0.55, 0.58, 0.62),  # blue-grey glass tower
        (0.78, 0.70, 0.52),  # ochre
    ]
)
_CAR_COLOURS = np.array(
    [
        (0.85, 0.85, 0.85),  # white
        (0.60, 0.62, 0.65),  # silver
        (0.08, 0.08, 0.09),  # black
        (0.55, 0.05, 0.05),  # red
        (0.08, 0.18, 0.45),  # blue
        (0.30, 0.30, 0.32),  # grey
        (0.85, 0.65, 0.05),  # taxi yellow
        (0.10, 0.30, 0.15),  # green
    ]
)
_SIGN_COLOURS = np.array(
    [(0.75, 0.08, 0.08), (0.05, 0.25, 0.65), (0.90, 0.75, 0.05), (0.05, 0.45, 0.20)]
)


def _smooth_noise(rng, size=256):
    """Tileable noise in [0, 1] with features of a few texels (FFT-filtered)."""
    white = rng.standard_normal((size, size))
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    # 1/f-ish spectrum, cut above ~1/3 texel^-1 so nearest sampling looks smooth.
    f = np.sqrt(fx**2 + fy**2)
    spectrum = np.where(f > 0, 1.0 / np.maximum(f, 1.0 / size), 0.0) * np.exp(-((f / 0.12) ** 2))
    field = np.real(np.fft.ifft2(np.fft.fft2(white) * spectrum))
    field = (field - field.min()) / (field.max() - field.min())
    return field.astype(np.float32)


def _light(rng, weather):
    """Per-clip lighting: sun direction and colours, sky, fog, emissive lights."""
    if weather == "dusk":
        elevation = np.radians(rng.uniform(2, 8))
        azimuth = np.radians(rng.uniform(-60, 60))
    else:
        elevation = np.radians(rng.uniform(25, 65))
        azimuth = np.radians(rng.uniform(-180, 180))
    sun = np.array(
        [
            np.sin(azimuth) * np.cos(elevation),
            np.sin(elevation),
            np.cos(azimuth) * np.cos(elevation),
        ]
    )
    jitter = rng.uniform(0.95, 1.05, size=3)
    presets = {
        # ambient, sun strength, sun colour, zenith, horizon, fog distance, clouds
        "sun": (0.45, 0.75, (1.0, 0.97, 0.90), (0.25, 0.47, 0.80), (0.68, 0.80, 0.92), 700.0, 0.35),
        "overcast": (
            0.85,
            0.12,
            (1.0, 1.0, 1.0),
            (0.58, 0.60, 0.64),
            (0.75, 0.76, 0.78),
            300.0,
            0.9,
        ),
        "fog": (0.80, 0.05, (1.0, 1.0, 1.0), (0.74, 0.75, 0.77), (0.76, 0.77, 0.78), 45.0, 0.0),
        "dusk": (0.30, 0.65, (1.0, 0.62, 0.38), (0.18, 0.20, 0.40), (0.95, 0.58, 0.36), 500.0, 0.3),
    }
    ambient, strength, sun_colour, zenith, horizon, fog, clouds = presets[weather]
    if weather == "fog":
        fog = rng.uniform(25.0, 60.0)
    horizon = np.array(horizon) * jitter
    return {
        "sun": sun,
        "ambient": ambient * rng.uniform(0.9, 1.1),
        "strength": strength * rng.uniform(0.9, 1.1),
        "sun_colour": np.array(sun_colour),
        "zenith": np.array(zenith) * jitter,
        "horizon": horizon,
        "fog_colour": horizon if weather != "dusk" else np.array([0.55, 0.45, 0.45]),
        "fog_distance": fog,
        "clouds": clouds,
        "night_lights": weather == "dusk",
    }


class _Builder:
    """Collects primitives while the scene is laid out."""

    def __init__(self):
        self.boxes, self.ellipsoids = [], []

    def box(self, x0, x1, y0, y1, z0, z1, cls, kind, colour, vz=0.0, facing=0.0):
        self.boxes.append(((x0, y0, z0), (x1, y1, z1), vz, cls, kind, colour, facing))

    def ellipsoid(self, centre, radii, cls, kind, colour):
        self.ellipsoids.append((centre, radii, 0.0, cls, kind, colour, 0.0))

    def arrays(self):
        rows = self.boxes + self.ellipsoids
        return dict(
            lo=np.array([r[0] for r in rows], np.float64).reshape(-1, 3),
            hi=np.array([r[1] for r in rows], np.float64).reshape(-1, 3),
            n_boxes=len(self.boxes),
            vz=np.array([r[2] for r in rows], np.float64),
            cls=np.array([r[3] for r in rows], np.uint8),
            kind=np.array([r[4] for r in rows], np.int8),
            colour=np.array([r[5] for r in rows], np.float32).reshape(-1, 3),
            facing=np.array([r[6] for r in rows], np.float32),
        )


def _make_scene(rng, frames, height, width):
    weather = WEATHERS[rng.integers(len(WEATHERS))]
    lanes = 1 if rng.random() < 0.6 else 2  # per direction
    lane_w = rng.uniform(3.0, 3.8)
    road_half = lanes * lane_w
    sidewalk = rng.uniform(2.0, 4.5)
    speed = rng.uniform(0.3, 0.9)  # metres per frame
    z_end = speed * frames + _FAR + 20.0
    b = _Builder()

    # Lane markings (x, half width, dashed, yellow, dash offset); right-hand traffic.
    offset = rng.uniform(0, 9)
    markings = [
        (-road_half + 0.25, 0.08, False, False, 0.0),
        (road_half - 0.25, 0.08, False, False, 0.0),
    ]
    if lanes == 1:
        markings.append((0.0, 0.08, True, rng.random() < 0.5, offset))
    else:
        markings += [(-0.15, 0.07, False, True, 0.0), (0.15, 0.07, False, True, 0.0)]
        markings += [(-lane_w, 0.08, True, False, offset), (lane_w, 0.08, True, False, offset)]

    # Roadside, each side independently: buildings, hedged parks with trees, gaps.
    for side in (-1.0, 1.0):
        z = -20.0
        street_trees = rng.random() < 0.5
        while z < z_end:
            r = rng.random()
            x_in = road_half + sidewalk + rng.uniform(0.0, 2.5)
            if r < 0.62:
                length = rng.uniform(8, 30)
                depth = rng.uniform(8, 20)
                tall = rng.uniform(5, 12) if rng.random() < 0.6 else rng.uniform(12, 35)
                colour = _BUILDING_COLOURS[rng.integers(len(_BUILDING_COLOURS))] * rng.uniform(
                    0.85, 1.1
                )
                x0, x1 = sorted((side * x_in, side * (x_in + depth)))
                b.box(x0, x1, 0.0, tall, z, z + length, BUILDING, _FACADE, colour)
            elif r < 0.85:
                length = rng.uniform(10, 35)
                hedge = rng.uniform(0.8, 1.8)
                green = np.array([0.16, 0.36, 0.12]) * rng.uniform(0.8, 1.2)
                x0, x1 = sorted((side * x_in, side * (x_in + 1.2)))
                b.box(x0, x1, 0.0, hedge, z, z + length, VEGETATION, _FOLIAGE, green)
                for _ in range(rng.integers(1, 4)):
                    rad = rng.uniform(2.0, 4.0, size=3)
                    centre = (
                        side * (x_in + rng.uniform(3, 9)),
                        rng.uniform(3.0, 6.0) + rad[1] * 0.5,
                        z + rng.uniform(0, length),
                    )
                    b.ellipsoid(centre, rad, VEGETATION, _FOLIAGE, green * rng.uniform(0.8, 1.1))
            else:
                length = rng.uniform(5, 15)
            z += length + rng.uniform(0.0, 2.0)

        if street_trees:
            x = side * (road_half + sidewalk - 0.9)
            for zt in np.arange(rng.uniform(-10, 0), z_end, rng.uniform(8, 14)):
                b.box(
                    x - 0.15,
                    x + 0.15,
                    0.0,
                    2.8,
                    zt - 0.15,
                    zt + 0.15,
                    VEGETATION,
                    _TRUNK,
                    (0.30, 0.22, 0.15),
                )
                rad = rng.uniform(1.4, 2.4, size=3)
                colour = np.array([0.18, 0.38, 0.12]) * rng.uniform(0.8, 1.2)
                b.ellipsoid((x, 2.6 + rad[1] * 0.8, zt), rad, VEGETATION, _FOLIAGE, colour)

        # Street lamps: post, arm over the road, lamp head.
        x = side * (road_half + 0.6)
        tall = rng.uniform(6.5, 9.0)
        reach = rng.uniform(1.2, 2.5)
        metal = np.array([0.35, 0.36, 0.38])
        for zl in np.arange(rng.uniform(-10, 10), z_end, rng.uniform(22, 40)):
            b.box(x - 0.12, x + 0.12, 0.0, tall, zl - 0.12, zl + 0.12, POLE, _PLAIN, metal)
            x0, x1 = sorted((x, x - side * reach))
            b.box(x0, x1, tall - 0.15, tall, zl - 0.08, zl + 0.08, POLE, _PLAIN, metal)
            x0, x1 = sorted((x - side * reach, x - side * (reach + 0.5)))
            b.box(
                x0, x1, tall - 0.3, tall - 0.05, zl - 0.2, zl + 0.2, POLE, _LAMP, (0.6, 0.6, 0.55)
            )

        # Sign posts; right-hand signs face the camera, left-hand ones show their backs.
        x = side * (road_half + 0.9)
        for zs in np.sort(rng.uniform(0, z_end, size=rng.poisson(z_end / 45.0))):
            tall = rng.uniform(2.0, 2.8)
            w, h = rng.uniform(0.6, 0.9), rng.uniform(0.6, 0.9)
            b.box(x - 0.05, x + 0.05, 0.0, tall, zs - 0.05, zs + 0.05, POLE, _PLAIN, metal)
            front = side > 0
            face = _SIGN_COLOURS[rng.integers(len(_SIGN_COLOURS))] if front else (0.5, 0.5, 0.5)
            z0 = zs - 0.12
            b.box(
                x - w / 2,
                x + w / 2,
                tall,
                tall + h,
                z0,
                z0 + 0.06,
                SIGN,
                _SIGN,
                face,
                0.0,
                1.0 if front else -1.0,
            )

    # Cars: same direction in our lanes (x > 0), oncoming in the others.
    cam_lane = rng.integers(lanes)
    for lane in range(-lanes, lanes):
        x_mid = (lane + 0.5) * lane_w
        same_way = lane >= 0
        if same_way:
            # Never much slower than the camera in its own lane, so it never rams a car.
            vz = speed + rng.uniform(-0.1 if lane == cam_lane else -0.3, 0.3)
            zs = rng.uniform(-5 if lane != cam_lane else 10, 25) + np.cumsum(
                rng.uniform(15, 45, size=4)
            )
        else:
            vz = -rng.uniform(0.3, 0.9)
            zs = rng.uniform(0, 20) + np.cumsum(rng.uniform(15, 50, size=6))
        for zc in zs:
            if rng.random() < 0.2:
                continue
            w, length = rng.uniform(1.7, 2.0), rng.uniform(3.8, 5.0)
            body_top = rng.uniform(0.85, 1.05)
            cab_top = body_top + rng.uniform(0.4, 0.6)
            paint = _CAR_COLOURS[rng.integers(len(_CAR_COLOURS))]
            facing = -1.0 if same_way else 1.0
            x_car = x_mid + rng.uniform(-0.3, 0.3)
            x0, x1 = x_car - w / 2, x_car + w / 2
            b.box(x0, x1, 0.12, body_top, zc, zc + length, CAR, _CAR, paint, vz, facing)
            inset = 0.08 * w
            c0 = zc + length * rng.uniform(0.25, 0.35)
            b.box(
                x0 + inset,
                x1 - inset,
                body_top,
                cab_top,
                c0,
                c0 + length * 0.5,
                CAR,
                _GLASS,
                paint,
                vz,
                facing,
            )

    # Camera: forward motion, gentle sway and bob, slight per-clip yaw/pitch.
    t = np.arange(frames)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    cam = np.stack(
        [
            (cam_lane + 0.5) * lane_w + rng.uniform(0, 0.3) * np.sin(0.07 * t + phase[0]),
            rng.uniform(1.3, 1.8) + 0.02 * np.sin(0.5 * t + phase[1]),
            speed * t,
        ],
        axis=1,
    )
    fov = np.radians(rng.uniform(75, 95))
    focal = width / (2.0 * np.tan(fov / 2.0))
    cx = width / 2.0 + rng.uniform(-0.08, 0.08) * width + 0.4 * np.sin(0.11 * t + phase[2])
    cy = height * rng.uniform(0.40, 0.50) + 0.3 * np.sin(0.5 * t + phase[1])

    asphalt = np.full(3, rng.uniform(0.22, 0.34)) * (1.0, 1.0, 1.03)
    pavement = np.array([0.62, 0.60, 0.56]) * rng.uniform(0.85, 1.1)
    grass = np.array([0.25, 0.40, 0.15]) * rng.uniform(0.8, 1.15)
    return _Scene(
        **b.arrays(),
        cam=cam,
        cx=cx,
        cy=cy,
        focal=float(focal),
        road_half=road_half,
        sidewalk=sidewalk,
        markings=markings,
        weather=weather,
        noise=_smooth_noise(rng),
        asphalt=asphalt,
        pavement=pavement,
        grass=grass,
        light=_light(rng, weather),
    )


# ------------------------------------------------------------------------ geometry


def _rays(scene, t, height, width):
    dx = (np.arange(width) + 0.5 - scene.cx[t]) / scene.focal
    dy = (scene.cy[t] - (np.arange(height) + 0.5)) / scene.focal
    return dx, dy


def _ground_classes(scene, X, Z, depth):
    """Road / lane marking / sidewalk / verge class of ground points."""
    ax = np.abs(X)
    cls = np.where(
        ax < scene.road_half,
        ROAD,
        np.where(ax < scene.road_half + scene.sidewalk, SIDEWALK, VEGETATION),
    )
    cls = cls.astype(np.uint8)
    near = depth < _MARKING_RANGE
    # Markings at least half a pixel wide, so distant lines stay visible instead of flickering.
    min_half = 0.5 * depth / scene.focal
    for x, half, dashed, _, offset in scene.markings:
        on = (np.abs(X - x) < np.maximum(half, min_half)) & near
        if dashed:
            on &= np.mod(Z - offset, 9.0) < 3.0
        cls[on] = LANE
    return cls


def _geometry(scene, t, height, width):
    """Per-pixel depth, class, primitive id, face code and car shadow of frame ``t``."""
    dx, dy = _rays(scene, t, height, width)
    cam = scene.cam[t]
    depth = np.full((height, width), np.inf, np.float32)
    cls = np.full((height, width), SKY, np.uint8)
    prim = np.full((height, width), -1, np.int32)
    face = np.full((height, width), _FACE_SKY, np.int8)

    # Ground plane: rows looking down hit Y = 0 at depth cam_y / -dy.
    rows = np.nonzero(dy < -1e-6)[0]
    if len(rows):
        zg = (cam[1] / -dy[rows])[:, None] * np.ones(width)
        X = cam[0] + dx[None, :] * zg
        depth[rows] = zg
        cls[rows] = _ground_classes(scene, X, cam[2] + zg, zg)
        face[rows] = _FACE_GROUND

    # Primitives relative to the camera at this frame, as bounds (P, 3).
    f, cxt, cyt = scene.focal, scene.cx[t], scene.cy[t]
    box = np.arange(len(scene.lo)) < scene.n_boxes
    centre = scene.lo - cam  # ellipsoid rows: centre; box rows: lower corner
    centre[:, 2] += scene.vz * t
    radii = np.where(box[:, None], 0.0, scene.hi)
    lo = centre - radii
    hi = np.where(box[:, None], scene.hi - cam, centre + radii)
    hi[box, 2] += scene.vz[box] * t
    zn = np.maximum(lo[:, 2], _NEAR)
    # Thin posts and arms grow to >= 1 pixel so they do not flicker in and out.
    grow = np.where(box, 0.5 * np.maximum(zn, 1.0) / f, 0.0)
    for axis in (0, 1):
        mid = 0.5 * (lo[:, axis] + hi[:, axis])
        thin = hi[:, axis] - lo[:, axis] < 2 * grow
        lo[:, axis] = np.where(thin, mid - grow, lo[:, axis])
        hi[:, axis] = np.where(thin, mid + grow, hi[:, axis])
    # Screen bounding boxes from the 8 corners (near face clipped to _NEAR).
    with np.errstate(divide="ignore", invalid="ignore"):
        zs = np.stack([zn, np.maximum(hi[:, 2], _NEAR)], 1)[:, None, :]
        us = cxt + f * np.stack([lo[:, 0], hi[:, 0]], 1)[:, :, None] / zs
        vs = cyt - f * np.stack([lo[:, 1], hi[:, 1]], 1)[:, :, None] / zs
    c0 = np.clip(np.floor(us.min(axis=(1, 2)) - 0.5), 0, width).astype(int)
    c1 = np.clip(np.ceil(us.max(axis=(1, 2)) + 0.5), 0, width).astype(int)
    r0 = np.clip(np.floor(vs.min(axis=(1, 2)) - 0.5), 0, height).astype(int)
    r1 = np.clip(np.ceil(vs.max(axis=(1, 2)) + 0.5), 0, height).astype(int)
    visible = (hi[:, 2] > _NEAR) & (lo[:, 2] < _FAR) & (c0 < c1) & (r0 < r1)
    for p in np.nonzero(visible)[0]:
        x0, y0, z0 = lo[p]
        x1, y1, z1 = hi[p]
        c0p, c1p, r0p, r1p = c0[p], c1[p], r0[p], r1[p]
        c, r = centre[p], radii[p]
        ddx, ddy = dx[c0p:c1p], dy[r0p:r1p]
        dep = depth[r0p:r1p, c0p:c1p]
        with np.errstate(divide="ignore", invalid="ignore"):  # rays parallel to a slab
            if box[p]:
                # Slab test; the ray is (dx, dy, 1), so t is the depth along Z.
                ax0, ax1 = x0 / ddx, x1 / ddx
                ay0, ay1 = y0 / ddy, y1 / ddy
                txn, txf = np.minimum(ax0, ax1)[None, :], np.maximum(ax0, ax1)[None, :]
                tyn, tyf = np.minimum(ay0, ay1)[:, None], np.maximum(ay0, ay1)[:, None]
                enter = np.maximum(np.maximum(txn, tyn), z0)
                leave = np.minimum(np.minimum(txf, tyf), z1)
                hit = (enter <= leave) & (enter > _NEAR) & (enter < dep)
                if not hit.any():
                    continue
                code = np.where(enter == txn, _FACE_X, np.where(enter == tyn, _FACE_Y, _FACE_Z))
            else:
                # Ray-ellipsoid in the ellipsoid's unit-sphere coordinates.
                ex, ey, ez = ddx / r[0], ddy / r[1], 1.0 / r[2]
                qx, qy, qz = c[0] / r[0], c[1] / r[1], c[2] / r[2]
                a = (ex * ex)[None, :] + (ey * ey)[:, None] + ez * ez
                bh = (ex * qx)[None, :] + (ey * qy)[:, None] + ez * qz
                disc = bh * bh - a * (qx * qx + qy * qy + qz * qz - 1.0)
                enter = (bh - np.sqrt(np.maximum(disc, 0.0))) / a
                hit = (disc >= 0) & (enter > _NEAR) & (enter < dep)
                if not hit.any():
                    continue
                code = _FACE_ELLIPSOID
        dep[hit] = enter[hit]
        cls[r0p:r1p, c0p:c1p][hit] = scene.cls[p]
        prim[r0p:r1p, c0p:c1p][hit] = p
        face[r0p:r1p, c0p:c1p][hit] = code if np.isscalar(code) else code[hit]
    # Soft contact shadows on the ground under car bodies (a cheap stand-in for real shadows).
    shadow = np.zeros((height, width), np.float32)
    ground = face == _FACE_GROUND
    for p in np.nonzero(scene.kind == _CAR)[0]:
        x0, x1 = lo[p, 0] - 0.3, hi[p, 0] + 0.3
        z0, z1 = lo[p, 2] - 0.4, hi[p, 2] + 0.4
        if z1 <= _NEAR or z0 >= _FAR:
            continue
        zn = max(z0, _NEAR)
        us = [cxt + f * x / z for x in (x0, x1) for z in (zn, z1)]
        c0, c1 = max(int(min(us)), 0), min(int(np.ceil(max(us))) + 1, width)
        r0 = max(int(cyt + f * cam[1] / z1), 0)
        r1 = min(int(np.ceil(cyt + f * cam[1] / zn)) + 1, height)
        if c0 >= c1 or r0 >= r1:
            continue
        g = ground[r0:r1, c0:c1]
        zg = depth[r0:r1, c0:c1]
        xg = dx[None, c0:c1] * zg
        # 1 in the middle of the footprint, fading to 0 over its outer rim.
        ux = np.abs(xg - 0.5 * (x0 + x1)) / (0.5 * (x1 - x0))
        uz = np.abs(zg - 0.5 * (z0 + z1)) / (0.5 * (z1 - z0))
        s = np.where(g, np.clip((1.0 - np.maximum(ux, uz)) * 5.0, 0.0, 1.0), 0.0)
        np.maximum(shadow[r0:r1, c0:c1], s, out=shadow[r0:r1, c0:c1])
    return depth, cls, prim, face, shadow


# ------------------------------------------------------------------------- shading


def _sample(noise, u, v):
    """Nearest lookup of the tileable noise at texel coordinates (u, v)."""
    return noise[np.floor(v).astype(np.int64) & 255, np.floor(u).astype(np.int64) & 255]


def _shade(scene, depth, cls, prim, face, shadow, height, width):
    """RGB uint8 video of a clip from its geometry buffers (each (T, H, W))."""
    T = len(depth)
    light = scene.light
    f32 = np.float32
    rays = [_rays(scene, t, height, width) for t in range(T)]
    dx = np.stack([r[0] for r in rays]).astype(f32)[:, None, :]  # (T, 1, W)
    dy = np.stack([r[1] for r in rays]).astype(f32)[:, :, None]  # (T, H, 1)
    sky = face == _FACE_SKY
    z = np.where(sky, f32(1e4), depth)
    cam = scene.cam.astype(f32)[:, :, None, None]
    X = cam[:, 0] + dx * z
    Y = cam[:, 1] + dy * z
    tt = np.arange(T, dtype=f32)[:, None, None]
    n_prims = len(scene.cls)
    # Moving objects are textured in their own frame, so paint does not slide.
    vz = np.append(scene.vz, 0.0).astype(f32)
    Zo = cam[:, 2] + z - vz[prim] * tt  # prim -1 picks the appended 0
    footprint = z / f32(scene.focal)  # metres per pixel

    # One lookup row per primitive, then one per ground class.
    row = np.where(prim >= 0, prim, n_prims + cls)
    ground_colour = np.zeros((len(STREET_CLASSES), 3), f32)
    ground_colour[ROAD] = scene.asphalt
    ground_colour[SIDEWALK] = scene.pavement
    ground_colour[VEGETATION] = scene.grass
    ground_colour[LANE] = (0.85, 0.85, 0.82)
    colour_lut = np.concatenate([scene.colour, ground_colour]).astype(f32)
    kind_amp = np.zeros((len(_KIND_TEXTURE), 2), f32)
    kind_amp[list(_KIND_TEXTURE)] = list(_KIND_TEXTURE.values())
    ground_amp = np.zeros((len(STREET_CLASSES), 2), f32)
    ground_amp[list(_GROUND_TEXTURE)] = list(_GROUND_TEXTURE.values())
    amp_lut = np.concatenate([kind_amp[scene.kind], ground_amp])
    kind_lut = np.append(scene.kind, -1).astype(np.int8)
    kind = kind_lut[prim]
    base = colour_lut[row]  # (T, H, W, 3)
    amp = amp_lut[row]  # (T, H, W, 2)

    # Texture coordinates (metres) on the surface, by face orientation.
    fx, fy, fz = face == _FACE_X, face == _FACE_Y, face == _FACE_Z
    ground = face == _FACE_GROUND
    ell = face == _FACE_ELLIPSOID
    su = np.where(fx, Zo, X)
    su = np.where(ell, X + Zo, su)
    sv = np.where(ground | fy, Zo, Y)
    noise = scene.noise
    fine = _sample(noise, su * 10.0, sv * 10.0) - f32(0.5)  # 0.1 m texels
    coarse = _sample(noise, su * 0.8 + 97.0, sv * 0.8 + 31.0) - f32(0.5)  # 1.25 m texels
    # Detail finer than a pixel would only flicker: fade it out with distance.
    fine *= np.clip(f32(1.5) - footprint / f32(0.15), 0.0, 1.0)
    tex = 1.0 + amp[..., 0] * fine + amp[..., 1] * coarse

    # Sun light: n . L per face; ground faces up, box faces against the ray.
    sun = light["sun"].astype(f32)
    per_face = np.array([0, 0, -sun[2], 0, sun[1], 0], f32)
    diffuse = per_face[face]
    diffuse = np.where(fx, -np.sign(dx) * sun[0], diffuse)
    diffuse = np.where(fy, -np.sign(dy) * sun[1], diffuse)
    if ell.any():
        pe = prim[ell]
        centre, radii = scene.lo[pe], scene.hi[pe]
        d = (np.stack([X[ell], Y[ell], Zo[ell]], -1) - centre) / radii**2
        diffuse[ell] = (d @ sun) / np.linalg.norm(d, axis=-1)
    np.clip(diffuse, 0.0, 1.0, out=diffuse)

    # Details on subsets of pixels (1D gathers keep them cheap).
    lane = ground & (cls == LANE)
    yellow_x = [m[0] for m in scene.markings if m[3]]
    if yellow_x:
        near_yellow = np.min([np.abs(X - x) for x in yellow_x], axis=0) < 0.5
        base[lane & near_yellow] = (0.85, 0.70, 0.15)
    pav = ground & (cls == SIDEWALK)
    # Paving slabs: darker joints every 0.6 m, faded where they would alias.
    xs, zs, fp = X[pav], Zo[pav], footprint[pav]
    joints = (np.mod(xs, 0.6) < 0.05) | (np.mod(zs, 0.6) < 0.05)
    base[pav] *= (1.0 - 0.25 * joints * np.clip(1.5 - fp / 0.05, 0.0, 1.0))[:, None]

    emissive = []  # (mask, rgb) pairs added after lighting
    night = light["night_lights"]

    # Facades: window grid on walls, darker roofs; some windows lit at dusk.
    wall = (kind == _FACADE) & (fx | fz)
    if wall.any():
        pw = prim[wall]
        s = np.where(fx[wall], Zo[wall], X[wall])
        cell_u = s / (2.6 + (pw % 3) * 0.5)
        cell_v = Y[wall] / 3.2
        fu, fv = np.mod(cell_u, 1.0), np.mod(cell_v, 1.0)
        window = (fu > 0.22) & (fu < 0.78) & (fv > 0.3) & (fv < 0.82) & (Y[wall] > 3.0)
        fade = np.clip(2.0 - footprint[wall] / 0.25, 0.0, 1.0)[:, None] * window[:, None]
        glass = 0.6 * np.array([0.12, 0.15, 0.2]) + 0.24 * light["horizon"]
        base[wall] = base[wall] * (1 - fade) + glass * fade
        if night:
            lit = _sample(noise, np.floor(cell_u) * 7.3 + pw * 13.1, np.floor(cell_v) * 5.7) > 0.55
            glow = np.zeros((len(pw), 3), f32)
            glow[lit] = (0.8, 0.62, 0.36)
            emissive.append((wall, glow * fade))
    base[(kind == _FACADE) & fy] *= 0.7  # roofs

    # Cars: dark wheel band at the bottom, lights on the visible end.
    car = kind == _CAR
    if car.any():
        base[car & (Y < 0.45)] *= 0.25
        end = car & fz
        pc = prim[end]
        xe, ye = X[end], Y[end]
        edge = np.minimum(xe - scene.lo[pc, 0], scene.hi[pc, 0] - xe)
        lamp = (edge < 0.35) & (ye > 0.55) & (ye < 0.8)
        tail = lamp & (scene.facing[pc] < 0)
        head = lamp & (scene.facing[pc] > 0)
        be = base[end]
        be[tail], be[head] = (0.6, 0.05, 0.05), (0.85, 0.85, 0.75)
        base[end] = be
        if night:
            glow = np.zeros((len(pc), 3), f32)
            glow[tail], glow[head] = (0.9, 0.1, 0.05), (1.0, 1.0, 0.85)
            emissive.append((end, glow))
    glassy = kind == _GLASS
    base[glassy] = 0.09 * base[glassy] + 0.12 + 0.25 * light["horizon"]

    # Sign plates: white border on the face that looks at the camera.
    plate = (kind == _SIGN) & fz
    if plate.any():
        pp = prim[plate]
        xp, yp = X[plate], Y[plate]
        lo, hi = scene.lo[pp], scene.hi[pp]
        border = np.minimum(
            np.minimum(xp - lo[:, 0], hi[:, 0] - xp), np.minimum(yp - lo[:, 1], hi[:, 1] - yp)
        )
        bp = base[plate]
        bp[(border < 0.08) & (scene.facing[pp] > 0)] = 0.92  # backs of signs stay plain grey
        base[plate] = bp
    if night:
        lamps = kind == _LAMP
        emissive.append((lamps, np.array([1.0, 0.85, 0.5], f32)))

    # Lighting: ambient sky light plus diffuse sun, times texture.
    diffuse *= 1.0 - shadow
    occlusion = (1.0 - 0.5 * shadow)[..., None]
    shade = (
        light["ambient"] * occlusion
        + (light["strength"] * light["sun_colour"]).astype(f32) * diffuse[..., None]
    )
    colour = base * shade
    colour *= tex[..., None]
    for mask, glow in emissive:
        colour[mask] += glow

    # Aerial perspective: blend towards the fog colour with distance.
    haze = 1.0 - np.exp(-z / f32(light["fog_distance"]))
    colour += (light["fog_colour"].astype(f32) - colour) * haze[..., None]

    # Sky: gradient by elevation, clouds on a plane at infinity (direction only,
    # so they stay put while the camera drives), and the sun disc.
    if sky.any():
        t_idx, r_idx, c_idx = np.nonzero(sky)
        sdx = dx[t_idx, 0, c_idx]
        sdy = dy[t_idx, r_idx, 0]
        elev = np.clip(sdy, 0.0, None)
        w = (np.clip(elev * 2.5, 0.0, 1.0) ** 0.7)[:, None]
        sky_rgb = light["horizon"] * (1 - w) + light["zenith"] * w
        cu, cv = sdx / (elev + 0.08), 1.0 / (elev + 0.08)
        cloud = np.clip((_sample(noise, cu * 20.0 + 50.0, cv * 20.0) - 0.45) * 3.0, 0.0, 1.0)
        cloud_rgb = (
            np.array([0.92, 0.92, 0.94]) if scene.weather != "dusk" else np.array([0.9, 0.6, 0.5])
        )
        sky_rgb = sky_rgb + (cloud_rgb - sky_rgb) * (cloud * light["clouds"])[:, None]
        if scene.weather in ("sun", "dusk"):
            ray = np.stack([sdx, sdy, np.ones_like(sdx)], -1)
            cosine = (ray @ light["sun"]) / np.linalg.norm(ray, axis=-1)
            sky_rgb = (
                sky_rgb + np.clip((cosine - 0.995) / 0.005, 0.0, 1.0)[:, None] * light["sun_colour"]
            )
        colour[sky] = sky_rgb
    colour *= 255.0
    colour += 0.5
    np.clip(colour, 0.0, 255.0, out=colour)
    return colour.astype(np.uint8)


def render_clip(seed, frames=30, height=108, width=192):
    """Render one clip: ``(rgb uint8 (T, H, W, 3), class ids uint8 (T, H, W), weather)``."""
    rng = np.random.default_rng(seed)
    scene = _make_scene(rng, frames, height, width)
    buffers = [_geometry(scene, t, height, width) for t in range(frames)]
    depth, cls, prim, face, shadow = (np.stack(b) for b in zip(*buffers))
    return _shade(scene, depth, cls, prim, face, shadow, height, width), cls, scene.weather


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
