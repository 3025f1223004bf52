"""The street scene of one synthetic clip: classes, surfaces, layout, cars, camera path, light.

`make_scene` draws everything a clip needs from its random generator; the
renderer (`street_render`) turns a `Scene` into class maps and RGB frames.
"""

from __future__ import annotations

import dataclasses

import numpy as np

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
KIND_PLAIN, KIND_FACADE, KIND_CAR, KIND_GLASS, KIND_SIGN, KIND_FOLIAGE, KIND_LAMP, KIND_TRUNK = range(8)
# Texture contrast (fine 0.1 m grain, coarse 1.25 m blotches) per surface kind...
KIND_TEXTURE = {
    KIND_PLAIN: (0.1, 0.1),
    KIND_FACADE: (0.12, 0.2),
    KIND_CAR: (0.02, 0.0),
    KIND_GLASS: (0.02, 0.0),
    KIND_SIGN: (0.03, 0.0),
    KIND_FOLIAGE: (0.8, 0.5),
    KIND_LAMP: (0.05, 0.0),
    KIND_TRUNK: (0.4, 0.2),
}
# ...and per ground class.
GROUND_TEXTURE = {
    ROAD: (0.35, 0.25),
    SIDEWALK: (0.15, 0.15),
    VEGETATION: (0.6, 0.4),
    LANE: (0.2, 0.1),
}
# Face codes in the geometry buffers.
FACE_X, FACE_Y, FACE_Z, FACE_ELLIPSOID, FACE_GROUND, FACE_SKY = range(6)

NEAR = 0.3  # metres; nothing closer to the camera is drawn
FAR = 120.0  # objects beyond this are skipped (fog hides them anyway)
MARKING_RANGE = 60.0  # lane markings beyond this would only alias



@dataclasses.dataclass
class Scene:
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


def make_scene(rng, frames, height, width):
    weather = WEATHERS[rng.integers(len(WEATHERS))]
    lanes = 1 if rng.random() < 0.6 else 2  # per direction
    lane_w = rng.uniform(3.0, 3.8)
    road_half = lanes * lane_w
    sidewalk = rng.uniform(2.0, 4.5)
    speed = rng.uniform(0.3, 0.9)  # metres per frame
    z_end = speed * frames + FAR + 20.0
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
                b.box(x0, x1, 0.0, tall, z, z + length, BUILDING, KIND_FACADE, colour)
            elif r < 0.85:
                length = rng.uniform(10, 35)
                hedge = rng.uniform(0.8, 1.8)
                green = np.array([0.16, 0.36, 0.12]) * rng.uniform(0.8, 1.2)
                x0, x1 = sorted((side * x_in, side * (x_in + 1.2)))
                b.box(x0, x1, 0.0, hedge, z, z + length, VEGETATION, KIND_FOLIAGE, green)
                for _ in range(rng.integers(1, 4)):
                    rad = rng.uniform(2.0, 4.0, size=3)
                    centre = (
                        side * (x_in + rng.uniform(3, 9)),
                        rng.uniform(3.0, 6.0) + rad[1] * 0.5,
                        z + rng.uniform(0, length),
                    )
                    b.ellipsoid(centre, rad, VEGETATION, KIND_FOLIAGE, green * rng.uniform(0.8, 1.1))
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
                    KIND_TRUNK,
                    (0.30, 0.22, 0.15),
                )
                rad = rng.uniform(1.4, 2.4, size=3)
                colour = np.array([0.18, 0.38, 0.12]) * rng.uniform(0.8, 1.2)
                b.ellipsoid((x, 2.6 + rad[1] * 0.8, zt), rad, VEGETATION, KIND_FOLIAGE, colour)

        # Street lamps: post, arm over the road, lamp head.
        x = side * (road_half + 0.6)
        tall = rng.uniform(6.5, 9.0)
        reach = rng.uniform(1.2, 2.5)
        metal = np.array([0.35, 0.36, 0.38])
        for zl in np.arange(rng.uniform(-10, 10), z_end, rng.uniform(22, 40)):
            b.box(x - 0.12, x + 0.12, 0.0, tall, zl - 0.12, zl + 0.12, POLE, KIND_PLAIN, metal)
            x0, x1 = sorted((x, x - side * reach))
            b.box(x0, x1, tall - 0.15, tall, zl - 0.08, zl + 0.08, POLE, KIND_PLAIN, metal)
            x0, x1 = sorted((x - side * reach, x - side * (reach + 0.5)))
            b.box(
                x0, x1, tall - 0.3, tall - 0.05, zl - 0.2, zl + 0.2, POLE, KIND_LAMP, (0.6, 0.6, 0.55)
            )

        # Sign posts; right-hand signs face the camera, left-hand ones show their backs.
        x = side * (road_half + 0.9)
        for zs in np.sort(rng.uniform(0, z_end, size=rng.poisson(z_end / 45.0))):
            tall = rng.uniform(2.0, 2.8)
            w, h = rng.uniform(0.6, 0.9), rng.uniform(0.6, 0.9)
            b.box(x - 0.05, x + 0.05, 0.0, tall, zs - 0.05, zs + 0.05, POLE, KIND_PLAIN, metal)
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
                KIND_SIGN,
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
            b.box(x0, x1, 0.12, body_top, zc, zc + length, CAR, KIND_CAR, paint, vz, facing)
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
                KIND_GLASS,
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
    return Scene(
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
