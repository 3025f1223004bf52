"""Renders a street `Scene`: per-pixel ray casting (geometry) and shading (RGB)."""

from __future__ import annotations

import numpy as np

from keras_v2v.data.street_scene import (
    FACE_ELLIPSOID,
    FACE_GROUND,
    FACE_SKY,
    FACE_X,
    FACE_Y,
    FACE_Z,
    FAR,
    GROUND_TEXTURE,
    KIND_CAR,
    KIND_FACADE,
    KIND_GLASS,
    KIND_LAMP,
    KIND_SIGN,
    KIND_TEXTURE,
    LANE,
    MARKING_RANGE,
    NEAR,
    ROAD,
    SIDEWALK,
    SKY,
    STREET_CLASSES,
    VEGETATION,
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
    near = depth < MARKING_RANGE
    # Markings at least half a pixel wide, so distant lines stay visible instead of flickering.
    min_half = 0.5 * depth / scene.focal
    for x, half, dashed, _, offset in scene.markings:
        on = (np.abs(X - x) < np.maximum(half, min_half)) & near
        if dashed:
            on &= np.mod(Z - offset, 9.0) < 3.0
        cls[on] = LANE
    return cls


def geometry(scene, t, height, width):
    """Per-pixel depth, class, primitive id, face code and car shadow of frame ``t``."""
    dx, dy = _rays(scene, t, height, width)
    cam = scene.cam[t]
    depth = np.full((height, width), np.inf, np.float32)
    cls = np.full((height, width), SKY, np.uint8)
    prim = np.full((height, width), -1, np.int32)
    face = np.full((height, width), FACE_SKY, np.int8)

    # Ground plane: rows looking down hit Y = 0 at depth cam_y / -dy.
    rows = np.nonzero(dy < -1e-6)[0]
    if len(rows):
        zg = (cam[1] / -dy[rows])[:, None] * np.ones(width)
        X = cam[0] + dx[None, :] * zg
        depth[rows] = zg
        cls[rows] = _ground_classes(scene, X, cam[2] + zg, zg)
        face[rows] = FACE_GROUND

    # Primitives relative to the camera at this frame, as bounds (P, 3).
    f, cxt, cyt = scene.focal, scene.cx[t], scene.cy[t]
    box = np.arange(len(scene.lo)) < scene.n_boxes
    centre = scene.lo - cam  # ellipsoid rows: centre; box rows: lower corner
    centre[:, 2] += scene.vz * t
    radii = np.where(box[:, None], 0.0, scene.hi)
    lo = centre - radii
    hi = np.where(box[:, None], scene.hi - cam, centre + radii)
    hi[box, 2] += scene.vz[box] * t
    zn = np.maximum(lo[:, 2], NEAR)
    # Thin posts and arms grow to >= 1 pixel so they do not flicker in and out.
    grow = np.where(box, 0.5 * np.maximum(zn, 1.0) / f, 0.0)
    for axis in (0, 1):
        mid = 0.5 * (lo[:, axis] + hi[:, axis])
        thin = hi[:, axis] - lo[:, axis] < 2 * grow
        lo[:, axis] = np.where(thin, mid - grow, lo[:, axis])
        hi[:, axis] = np.where(thin, mid + grow, hi[:, axis])
    # Screen bounding boxes from the 8 corners (near face clipped to NEAR).
    with np.errstate(divide="ignore", invalid="ignore"):
        zs = np.stack([zn, np.maximum(hi[:, 2], NEAR)], 1)[:, None, :]
        us = cxt + f * np.stack([lo[:, 0], hi[:, 0]], 1)[:, :, None] / zs
        vs = cyt - f * np.stack([lo[:, 1], hi[:, 1]], 1)[:, :, None] / zs
    c0 = np.clip(np.floor(us.min(axis=(1, 2)) - 0.5), 0, width).astype(int)
    c1 = np.clip(np.ceil(us.max(axis=(1, 2)) + 0.5), 0, width).astype(int)
    r0 = np.clip(np.floor(vs.min(axis=(1, 2)) - 0.5), 0, height).astype(int)
    r1 = np.clip(np.ceil(vs.max(axis=(1, 2)) + 0.5), 0, height).astype(int)
    visible = (hi[:, 2] > NEAR) & (lo[:, 2] < FAR) & (c0 < c1) & (r0 < r1)
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
                hit = (enter <= leave) & (enter > NEAR) & (enter < dep)
                if not hit.any():
                    continue
                code = np.where(enter == txn, FACE_X, np.where(enter == tyn, FACE_Y, FACE_Z))
            else:
                # Ray-ellipsoid in the ellipsoid's unit-sphere coordinates.
                ex, ey, ez = ddx / r[0], ddy / r[1], 1.0 / r[2]
                qx, qy, qz = c[0] / r[0], c[1] / r[1], c[2] / r[2]
                a = (ex * ex)[None, :] + (ey * ey)[:, None] + ez * ez
                bh = (ex * qx)[None, :] + (ey * qy)[:, None] + ez * qz
                disc = bh * bh - a * (qx * qx + qy * qy + qz * qz - 1.0)
                enter = (bh - np.sqrt(np.maximum(disc, 0.0))) / a
                hit = (disc >= 0) & (enter > NEAR) & (enter < dep)
                if not hit.any():
                    continue
                code = FACE_ELLIPSOID
        dep[hit] = enter[hit]
        cls[r0p:r1p, c0p:c1p][hit] = scene.cls[p]
        prim[r0p:r1p, c0p:c1p][hit] = p
        face[r0p:r1p, c0p:c1p][hit] = code if np.isscalar(code) else code[hit]
    # Soft contact shadows on the ground under car bodies (a cheap stand-in for real shadows).
    shadow = np.zeros((height, width), np.float32)
    ground = face == FACE_GROUND
    for p in np.nonzero(scene.kind == KIND_CAR)[0]:
        x0, x1 = lo[p, 0] - 0.3, hi[p, 0] + 0.3
        z0, z1 = lo[p, 2] - 0.4, hi[p, 2] + 0.4
        if z1 <= NEAR or z0 >= FAR:
            continue
        zn = max(z0, NEAR)
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


def shade(scene, depth, cls, prim, face, shadow, height, width):
    """RGB uint8 video of a clip from its geometry buffers (each (T, H, W))."""
    T = len(depth)
    light = scene.light
    f32 = np.float32
    rays = [_rays(scene, t, height, width) for t in range(T)]
    dx = np.stack([r[0] for r in rays]).astype(f32)[:, None, :]  # (T, 1, W)
    dy = np.stack([r[1] for r in rays]).astype(f32)[:, :, None]  # (T, H, 1)
    sky = face == FACE_SKY
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
    kind_amp = np.zeros((len(KIND_TEXTURE), 2), f32)
    kind_amp[list(KIND_TEXTURE)] = list(KIND_TEXTURE.values())
    ground_amp = np.zeros((len(STREET_CLASSES), 2), f32)
    ground_amp[list(GROUND_TEXTURE)] = list(GROUND_TEXTURE.values())
    amp_lut = np.concatenate([kind_amp[scene.kind], ground_amp])
    kind_lut = np.append(scene.kind, -1).astype(np.int8)
    kind = kind_lut[prim]
    base = colour_lut[row]  # (T, H, W, 3)
    amp = amp_lut[row]  # (T, H, W, 2)

    # Texture coordinates (metres) on the surface, by face orientation.
    fx, fy, fz = face == FACE_X, face == FACE_Y, face == FACE_Z
    ground = face == FACE_GROUND
    ell = face == FACE_ELLIPSOID
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
    wall = (kind == KIND_FACADE) & (fx | fz)
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
    base[(kind == KIND_FACADE) & fy] *= 0.7  # roofs

    # Cars: dark wheel band at the bottom, lights on the visible end.
    car = kind == KIND_CAR
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
    glassy = kind == KIND_GLASS
    base[glassy] = 0.09 * base[glassy] + 0.12 + 0.25 * light["horizon"]

    # Sign plates: white border on the face that looks at the camera.
    plate = (kind == KIND_SIGN) & fz
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
        lamps = kind == KIND_LAMP
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
