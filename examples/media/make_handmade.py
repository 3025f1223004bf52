"""Writes two clips drawn by hand here, not by any generator of keras-v2v (the demo's checks).

* ``handmade_digit.mp4``: a white stroke "2" drawn from a polyline (not an MNIST digit), 64x64,
  32 frames, moving on a circle (the training clips move on straight lines and bounce).
* ``handmade_street_seg.mp4``: a street segmentation clip in the street palette, 64x112, 24
  frames: a road trapezoid, sidewalks, two building blocks, a tree, a pole, lane dashes
  sliding towards the camera and a car crossing from right to left.
* ``handmade_digit_curve.mp4``: a hand-drawn "4", 64x64, 32 frames, on a curved path (a
  parabola) that is slow for its first half and three times faster after.
* ``handmade_street_car.mp4``: a still street (segmentation palette, 64x112, 24 frames) that a
  car crosses from left to right at 6 px a frame: the only thing that moves.

Rerun:  python examples/media/make_handmade.py
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from keras_v2v import data  # noqa: E402
from keras_v2v.data.street_scene import CLASS_COLOURS  # noqa: E402
from keras_v2v.data.street_scene import BUILDING, CAR, LANE, POLE, ROAD, SIDEWALK, SKY, VEGETATION  # noqa: E402

# A "2" as a pen would draw it, in a 24x24 box (x, y).
FOUR = np.array([(15, 2), (3, 15), (21, 15), (999, 999), (15, 2), (15, 23)], float)
TWO = np.array([(4, 7), (7, 3), (12, 2), (17, 3), (19, 7), (18, 11), (13, 15), (7, 19), (4, 22), (20, 22)], float)


def stroke(size, points, width=2.2):
    """Anti-aliased polyline: 255 on the stroke, fading over one pixel at its edge."""
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    distance = np.full((size, size), np.inf)
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
        if max(x0, x1) > 900:  # (999, 999) lifts the pen
            continue
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / (dx * dx + dy * dy), 0, 1)
        distance = np.minimum(distance, np.hypot(xx - x0 - t * dx, yy - y0 - t * dy))
    return (np.clip(width + 0.5 - distance, 0, 1) * 255).astype(np.uint8)


def digit_clip(frames=32, size=64):
    clip = np.zeros((frames, size, size, 3), np.uint8)
    for t in range(frames):
        angle = 2 * np.pi * t / frames
        offset = np.array([size / 2 - 12 + 14 * np.cos(angle), size / 2 - 12 + 14 * np.sin(angle)])
        clip[t] = stroke(size, TWO * 1.2 + offset)[..., None]
    return clip


def curved_digit_clip(frames=32, size=64):
    """A "4" along a parabola: a quarter of the way in the first half of the clip, the rest after."""
    clip = np.zeros((frames, size, size, 3), np.uint8)
    for t in range(frames):
        u = t / (frames - 1)
        along = 0.5 * u if u < 0.5 else 0.25 + 1.5 * (u - 0.5)  # speed x3 at mid-clip
        x = 4 + 34 * along
        y = 30 - 26 * (2 * along - 1) ** 2 + 4
        clip[t] = stroke(size, FOUR + np.array([x, y]) - np.array([0, 8]))[..., None]
    return clip


def crossing_car_clip(frames=24, height=64, width=112):
    yy, xx = np.mgrid[0:height, 0:width]
    horizon = 26
    scene = np.full((height, width), SKY)
    scene[yy >= horizon] = SIDEWALK
    scene[(yy >= horizon + 8) & (yy < height - 6)] = ROAD
    scene[(yy < horizon) & (yy > 6) & ((xx < 34) | (xx > 80))] = BUILDING
    scene[(xx - 56) ** 2 + (yy - 16) ** 2 < 50] = VEGETATION
    labels = np.repeat(scene[None], frames, axis=0)
    for t in range(frames):
        car_x = -20 + 6 * t
        labels[t][(yy >= 38) & (yy < 52) & (xx >= car_x) & (xx < car_x + 26)] = CAR
    return CLASS_COLOURS[labels]


def street_clip(frames=24, height=64, width=112):
    yy, xx = np.mgrid[0:height, 0:width]
    horizon, centre = 26, width / 2
    labels = np.empty((frames, height, width), np.int64)
    for t in range(frames):
        m = np.full((height, width), SKY)
        depth = np.clip((yy - horizon) / (height - horizon), 0, 1)  # 0 at the horizon, 1 at the bottom
        below = yy >= horizon
        half_road = 4 + 50 * depth
        m[below & (np.abs(xx - centre) <= half_road + 10 * depth)] = SIDEWALK
        m[below & (np.abs(xx - centre) <= half_road)] = ROAD
        m[(yy < horizon + 6) & (yy > 8) & (xx < 30)] = BUILDING
        m[(yy < horizon + 4) & (yy > 12) & (xx > 84)] = BUILDING
        m[((xx - 38) ** 2 + (yy - 18) ** 2 < 40)] = VEGETATION
        m[(xx >= 76) & (xx <= 77) & (yy > 10) & (yy < horizon + 12)] = POLE
        # Lane dashes move towards the camera: phase advances with t.
        phase = (depth * 6 + t / 6.0) % 1.0
        m[below & (np.abs(xx - centre) <= 0.5 + 1.5 * depth) & (phase < 0.5) & (depth > 0.05)] = LANE
        car_x = width - 10 - 4 * t
        m[(yy >= 40) & (yy < 50) & (xx >= car_x) & (xx < car_x + 22)] = CAR
        labels[t] = m
    return CLASS_COLOURS[labels]


def main():
    clips = (("handmade_digit.mp4", digit_clip()), ("handmade_street_seg.mp4", street_clip()),
             ("handmade_digit_curve.mp4", curved_digit_clip()), ("handmade_street_car.mp4", crossing_car_clip()))
    for name, clip in clips:
        path = os.path.join(HERE, name)
        data.write_video(path, clip, fps=8)
        print(f"wrote {path} {clip.shape} ({os.path.getsize(path):,} bytes)")


if __name__ == "__main__":
    main()
