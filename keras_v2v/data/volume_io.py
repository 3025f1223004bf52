"""Read medical volumes (NIfTI, DICOM series) as float32 (D, H, W, 1) in [0, 1].

``read_volume`` = ``load_volume`` (native units: Hounsfield units for CT) ->
intensity window -> resample/crop to the requested shape.

Orientation: volumes come out as (slices, rows, columns) in radiological
display order for axial scans: slices inferior -> superior, rows anterior ->
posterior, columns patient-right -> patient-left. NIfTI images are first
reoriented to RAS+ with nibabel; DICOM slices are sorted by their position
along the slice normal (ImagePositionPatient . normal), falling back to
InstanceNumber, and keep their stored row/column order.

DICOM pixels are decoded by pydicom. Compressed transfer syntaxes need
pydicom's optional decoders (pylibjpeg, gdcm); where those are missing and
tensorflow-io's native DICOM op works (see ``_tfio``; it does not with
TensorFlow 2.21), tensorflow-io decodes the pixels instead.

``write_nifti`` is the inverse of the NIfTI reader and writes atomically.
Needs ``nibabel`` (NIfTI) and ``pydicom`` (DICOM): ``pip install keras-v2v[medical]``.
"""

import os
import warnings

import numpy as np

from keras_v2v.data import _tfio
from keras_v2v.data.errors import DataError
from keras_v2v.utils.files import atomic_path, special_kind
from keras_v2v.data.resize import resample_axis
from keras_v2v.data.video_io import natural_key
from keras_v2v.utils.limits import max_bytes as byte_limit
from keras_v2v.utils.limits import over_limit_message

# Absolute windows in Hounsfield units (level +- width / 2), and robust
# percentile windows for modalities without absolute units (MR).
WINDOW_PRESETS = {
    "ct-brain": (0.0, 80.0),  # W80 L40
    "ct-subdural": (-20.0, 180.0),  # W200 L80
    "ct-soft-tissue": (-160.0, 240.0),  # W400 L40
    "ct-bone": (-450.0, 1050.0),  # W1500 L300
    "ct-lung": (-1350.0, 150.0),  # W1500 L-600
    "mr": ("percentile", 0.5, 99.5),
    "minmax": ("percentile", 0.0, 100.0),
}

FIT_MODES = ("resize", "crop", "fit")
NIFTI_SUFFIXES = (".nii", ".nii.gz")


# --------------------------------------------------------------------------
# Loading in native units
# --------------------------------------------------------------------------


def _require(module, extra="medical"):
    try:
        return __import__(module)
    except ImportError as e:
        raise ImportError(
            f"reading this volume needs `{module}`: pip install keras-v2v[{extra}]"
        ) from e


# Loading holds the float32 volume, its windowed copy and a sorted copy for the
# percentile window at once, plus nibabel's buffers: 3.6-4.2x the volume measured
# (tests/fuzzing.py, peak-rss:read:nii.gz).
_WORKING_COPIES = 4


def _check_voxels(path, shape, limit):
    """Refuses, from the header alone, a volume whose float32 working copies would pass the memory limit."""
    need = int(np.prod([int(s) for s in shape], dtype=np.float64)) * 4 * _WORKING_COPIES
    if need > limit:
        raise DataError(path, over_limit_message(
            f"loading a volume of {' x '.join(str(int(s)) for s in shape)} voxels (float32, with its "
            f"{_WORKING_COPIES} working copies)", need, limit))


def nifti_shape(path):
    """(D, H, W) of the volume `read_volume` returns for a NIfTI file, from its header alone (nothing decoded)."""
    nib = _require("nibabel")
    try:
        img = nib.load(os.fspath(path))
        shape = tuple(int(s) for s in img.header.get_data_shape())
        # as_closest_canonical permutes the axes to RAS+; read_volume then reverses them.
        order = nib.io_orientation(img.affine)[:, 0]
    except Exception as e:  # nibabel, gzip and numpy raise their own types
        raise DataError(path, f"not a readable NIfTI file ({_one_line(e)})") from e
    if len(shape) < 3:
        raise DataError(path, f"expected a 3D volume, found data of shape {shape}")
    canonical = [0, 0, 0]
    for axis in range(3):
        canonical[int(order[axis]) if order[axis] == order[axis] else axis] = shape[axis]
    return tuple(canonical[::-1])


def _load_nifti(path, limit):
    nib = _require("nibabel")
    try:
        img = nib.load(path)
        shape = img.header.get_data_shape()
    except Exception as e:  # nibabel, gzip, zlib and numpy all raise their own types
        raise DataError(path, f"not a readable NIfTI file ({_one_line(e)})") from e
    _check_voxels(path, shape, limit)
    try:
        img = nib.as_closest_canonical(img)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            data = np.asarray(img.get_fdata(dtype=np.float32))
        zooms = tuple(float(z) for z in img.header.get_zooms()[:3])
    except Exception as e:  # nibabel, gzip, zlib and numpy all raise their own types
        raise DataError(path, f"not a readable NIfTI file ({_one_line(e)})") from e
    if any("overflow" in str(w.message) for w in caught):
        # float64 values past +-3.4e38 become inf in float32: say so, not "no finite values".
        raise DataError(path, f"holds {img.get_data_dtype()} values beyond float32's range (+-3.4e38), which "
                              "keras-v2v computes in; rescale the volume (e.g. to its physical units) and save it again")
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise DataError(path, f"expected a 3D volume, found data of shape {data.shape}")
    zooms = zooms + (1.0,) * (3 - len(zooms))
    # RAS+ (x, y, z) -> (z, y, x), then flip rows to anterior-first and
    # columns to patient-right-first, as a radiologist views an axial slice.
    volume = data.transpose(2, 1, 0)[:, ::-1, ::-1]
    spacing = (zooms[2], zooms[1], zooms[0])
    return np.ascontiguousarray(volume, dtype=np.float32), spacing


def _one_line(error):
    """`TypeName: message` on one line (nibabel and pydicom write multi-line messages)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _dicom_files(folder):
    names = sorted(
        (n for n in os.listdir(folder) if not n.startswith(".")), key=natural_key
    )
    return [os.path.join(folder, n) for n in names if os.path.isfile(os.path.join(folder, n))]


def _sop_class(ds):
    meta = getattr(ds, "file_meta", None)
    return str(getattr(ds, "SOPClassUID", "") or getattr(meta, "MediaStorageSOPClassUID", ""))


def _looks_like_dicom(path):
    """A .dcm name or the DICM magic at byte 128: meant to be DICOM."""
    if path.lower().endswith((".dcm", ".dicom")):
        return True
    with open(path, "rb") as fh:
        fh.seek(128)
        return fh.read(4) == b"DICM"


def _read_dicom_headers(paths, source):
    pydicom = _require("pydicom")
    from pydicom.errors import InvalidDicomError

    slices, skipped, no_pixels = [], [], []
    for p in paths:
        try:
            ds = pydicom.dcmread(p)
        except InvalidDicomError as e:
            if _looks_like_dicom(p):
                raise DataError(p, f"damaged DICOM file ({e})") from e
            skipped.append(os.path.basename(p))  # not DICOM at all: ignore
            continue
        except Exception as e:
            raise DataError(p, f"unreadable DICOM file ({_one_line(e)})") from e
        if "PixelData" not in ds:
            no_pixels.append((p, ds))  # DICOMDIR, reports... or a truncated slice
            continue
        slices.append((p, ds))
    if not slices:
        skipped += [os.path.basename(p) for p, _ in no_pixels]
        detail = f" (skipped: {', '.join(skipped[:5])})" if skipped else ""
        raise DataError(source, f"no DICOM image files found{detail}")
    return slices, no_pixels


def _pixels(path, ds):
    """Stored pixel values of one DICOM file -> (frames, rows, cols)."""
    if int(getattr(ds, "SamplesPerPixel", 1)) != 1:
        raise DataError(
            path,
            f"expected greyscale slices (SamplesPerPixel 1), found {ds.SamplesPerPixel}",
        )
    try:
        array = np.asarray(ds.pixel_array)
    except Exception as e:  # pydicom raises many types for undecodable pixels
        if _tfio.dicom_ops_available():
            try:
                with open(path, "rb") as fh:
                    array = _tfio.decode_dicom_pixels(fh.read())
                if int(getattr(ds, "PixelRepresentation", 0)) == 1:
                    array = array.astype(np.uint16).view(np.int16)  # signed stored values
                return array.reshape((-1,) + array.shape[-2:])
            except Exception:  # noqa: S110 - tensorflow-io failing too: report pydicom's error
                pass
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        hint = ""
        try:
            compressed = syntax is not None and syntax.is_compressed
        except Exception:  # pydicom raises for a UID that is no transfer syntax
            compressed, hint = False, "; the file names an unknown transfer syntax"
        if compressed:
            hint = "; for compressed DICOM install pylibjpeg and pylibjpeg-libjpeg, or gdcm"
        raise DataError(
            path, f"pixel data could not be decoded (transfer syntax {syntax}: {_one_line(e)}){hint}"
        ) from e
    return array.reshape((-1,) + array.shape[-2:])


def _slice_normal(ds):
    iop = getattr(ds, "ImageOrientationPatient", None)
    if iop is None or len(iop) != 6:
        return None
    row, col = np.array(iop[:3], float), np.array(iop[3:], float)
    normal = np.cross(row, col)
    return normal if np.linalg.norm(normal) > 0.5 else None


def _load_dicom(path, series=None, limit=None):
    try:
        return _load_dicom_series(path, series, limit)
    except (DataError, MemoryError):
        raise
    except Exception as e:  # pydicom decodes header values lazily and raises its own types on damaged ones
        raise DataError(path, f"damaged DICOM header ({_one_line(e)})") from e


def _load_dicom_series(path, series, limit):
    files = _dicom_files(path) if os.path.isdir(path) else [path]
    slices, no_pixels = _read_dicom_headers(files, path)

    # One volume per call: several series in a folder must be chosen between.
    by_series = {}
    for p, ds in slices:
        by_series.setdefault(str(getattr(ds, "SeriesInstanceUID", "")), []).append((p, ds))
    if series is not None:
        if str(series) not in by_series:
            raise DataError(
                path,
                f"no series {series!r}; found: {', '.join(sorted(by_series))}",
            )
        slices = by_series[str(series)]
    elif len(by_series) > 1:
        listing = ", ".join(f"{uid} ({len(v)} files)" for uid, v in by_series.items())
        raise DataError(
            path,
            f"folder holds {len(by_series)} DICOM series: {listing}; "
            "pass series=<SeriesInstanceUID>",
        )

    # A pixel-less file of this series, of the same image class, or of no
    # recognisable class is a damaged slice; DICOMDIRs and reports are skipped.
    first = slices[0][1]
    for p, ds in no_pixels:
        series_uid = str(getattr(ds, "SeriesInstanceUID", ""))
        if (
            (series_uid and series_uid == str(getattr(first, "SeriesInstanceUID", "")))
            or _sop_class(ds) in ("", _sop_class(first))
        ):
            raise DataError(p, "image slice has no pixel data (truncated file?)")

    normal = _slice_normal(slices[0][1])
    positions = [getattr(ds, "ImagePositionPatient", None) for _, ds in slices]
    if normal is not None and all(p is not None and len(p) == 3 for p in positions):
        keys = [float(np.dot(np.array(p, float), normal)) for p in positions]
        if len(set(np.round(keys, 4))) != len(keys) and len(slices) > 1:
            raise DataError(
                path,
                "several slices share one position (multiple echoes, phases or "
                "acquisitions in one series?); split them into separate folders",
            )
    elif all(getattr(ds, "InstanceNumber", None) is not None for _, ds in slices):
        keys = [int(ds.InstanceNumber) for _, ds in slices]
    else:
        if len(slices) > 1:
            warnings.warn(
                f"{path}: DICOM slices carry neither ImagePositionPatient nor "
                "InstanceNumber; ordering them by file name",
                stacklevel=3,
            )
        keys = list(range(len(slices)))
    order = np.argsort(keys, kind="stable")
    slices = [slices[i] for i in order]
    keys = [keys[i] for i in order]
    try:
        planes_declared = sum(int(getattr(ds, "NumberOfFrames", 1) or 1) for _, ds in slices)
        rows, cols = int(slices[0][1].Rows), int(slices[0][1].Columns)
    except (AttributeError, TypeError, ValueError) as e:
        raise DataError(path, f"DICOM header without a usable image size ({_one_line(e)})") from e
    _check_voxels(path, (planes_declared, rows, cols), limit)

    planes, shape = [], None
    for p, ds in slices:
        pixels = _pixels(p, ds).astype(np.float32)
        slope = float(getattr(ds, "RescaleSlope", 1) or 1)
        intercept = float(getattr(ds, "RescaleIntercept", 0) or 0)
        pixels = pixels * slope + intercept  # stored values -> HU for CT
        if getattr(ds, "PhotometricInterpretation", "MONOCHROME2") == "MONOCHROME1":
            pixels = pixels.max() + pixels.min() - pixels  # MONOCHROME1: low = white
        if shape is None:
            shape = pixels.shape[1:]
        elif pixels.shape[1:] != shape:
            raise DataError(
                p,
                f"slice is {pixels.shape[1]}x{pixels.shape[2]} but "
                f"{slices[0][0]} is {shape[0]}x{shape[1]}; one series must have one size",
            )
        planes.append(pixels)
    volume = np.concatenate(planes, axis=0)

    first = slices[0][1]
    row_sp, col_sp = (float(v) for v in getattr(first, "PixelSpacing", (1.0, 1.0)))
    if normal is not None and len(keys) > 1 and isinstance(keys[0], float):
        steps = np.diff(keys)
        depth_sp = float(np.median(steps))
        uneven = np.flatnonzero(np.abs(steps - depth_sp) > 0.1 * abs(depth_sp))
        if uneven.size:
            k = int(uneven[0])
            warnings.warn(
                f"{path}: uneven slice spacing ({steps[k]:.3g} mm between "
                f"{os.path.basename(slices[k][0])} and {os.path.basename(slices[k + 1][0])}, "
                f"{depth_sp:.3g} mm elsewhere): a slice may be missing",
                stacklevel=3,
            )
    else:
        depth_sp = float(
            getattr(first, "SpacingBetweenSlices", None)
            or getattr(first, "SliceThickness", None)
            or 1.0
        )
    return volume, (abs(depth_sp), row_sp, col_sp)


def load_volume(path, *, series=None, max_bytes=None):
    """Load a volume in its native units -> (float32 (D, H, W), spacing (d, h, w) in mm).

    ``path``: a ``.nii``/``.nii.gz`` file, a DICOM file, or a folder holding
    one DICOM series (``series=`` picks one SeriesInstanceUID when it holds
    several). CT comes out in Hounsfield units (RescaleSlope/Intercept applied).
    ``max_bytes``: the most memory the float32 volume may take (default 2 GiB,
    or KERAS_V2V_MAX_DECODED_BYTES), checked from the headers before loading.
    Non-finite voxels (NaN, inf) are replaced by the smallest finite value.
    """
    limit = byte_limit(max_bytes)
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(path, "no such file or folder")
    kind = special_kind(path)
    if kind is not None:  # a FIFO blocks nibabel and pydicom, /dev/zero never ends
        raise DataError(path, f"expected a NIfTI or DICOM file (or a DICOM folder), found {kind}; "
                              "save the data as a regular file")
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise DataError(path, "file is empty (0 bytes)")
    if path.lower().endswith(NIFTI_SUFFIXES):
        volume, spacing = _load_nifti(path, limit)
    else:
        volume, spacing = _load_dicom(path, series=series, limit=limit)
    if min(volume.shape) < 1:
        raise DataError(path, f"volume has an empty axis: shape {volume.shape}")
    finite = np.isfinite(volume)
    if not finite.all():
        if not finite.any():
            raise DataError(path, "volume holds no finite values")
        volume = np.where(finite, volume, volume[finite].min())
    return volume.astype(np.float32, copy=False), spacing


# --------------------------------------------------------------------------
# Windowing and resampling
# --------------------------------------------------------------------------


def resolve_window(volume, window):
    """``window`` (None, preset name, or (lo, hi)) -> absolute (lo, hi) for ``volume``."""
    if window is None:
        window = "minmax"
    if isinstance(window, str):
        if window not in WINDOW_PRESETS:
            raise ValueError(
                f"read_volume: unknown window preset {window!r}; "
                f"known: {', '.join(WINDOW_PRESETS)}"
            )
        window = WINDOW_PRESETS[window]
    if len(window) == 3 and window[0] == "percentile":
        lo, hi = (float(v) for v in np.percentile(volume, [window[1], window[2]]))
        return lo, (hi if hi > lo else lo + 1.0)  # constant volume: all zeros
    if len(window) != 2:
        raise ValueError(
            f"read_volume: `window` must be (lo, hi), a preset name or None, got {window!r}"
        )
    lo, hi = float(window[0]), float(window[1])
    if not hi > lo:
        raise ValueError(f"read_volume: `window` needs hi > lo, got ({lo}, {hi})")
    return lo, hi


def apply_window(volume, window):
    """Map intensities in ``window`` linearly to [0, 1], clipping outside.

    Computed in float64 one slice at a time: `hi - lo` of values near the
    float32 limits (+-3e38) would overflow to inf and turn the volume to NaN.
    """
    lo, hi = resolve_window(volume, window)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"read_volume: the intensity window ({lo}, {hi}) is not finite")
    out = np.empty(volume.shape, np.float32)
    scale = 1.0 / (float(hi) - float(lo))
    for index in range(volume.shape[0]):
        out[index] = np.clip((volume[index].astype(np.float64) - float(lo)) * scale, 0.0, 1.0)
    return out


def _resample(volume, shape):
    for axis, size in enumerate(shape):
        if size != volume.shape[axis]:
            volume = resample_axis(volume, axis, int(size), "area")
    return volume


def center_crop_or_pad(volume, shape, value=0.0):
    """Centre-crop axes that are too long and centre-pad (with ``value``) those too short."""
    out = volume
    for axis, size in enumerate(shape):
        n = out.shape[axis]
        if n > size:
            begin = (n - size) // 2
            out = np.take(out, np.arange(begin, begin + size), axis=axis)
        elif n < size:
            before = (size - n) // 2
            pad = [(0, 0)] * out.ndim
            pad[axis] = (before, size - n - before)
            out = np.pad(out, pad, constant_values=value)
    return out


def read_volume(path, shape=None, window=None, *, fit="resize", series=None, max_bytes=None):
    """Read a NIfTI file or DICOM series -> float32 (D, H, W, 1) in [0, 1].

    Args:
        path: ``.nii``/``.nii.gz`` file, DICOM file, or folder of one DICOM series.
        shape: target (D, H, W); None keeps the native shape; a None entry keeps
            that axis.
        window: (lo, hi) in native units (HU for CT), a preset name from
            ``WINDOW_PRESETS`` ("ct-brain", "ct-bone", "mr", ...), or None for
            the volume's min..max. Values outside are clipped.
        fit: how to reach ``shape``: "resize" resamples each axis (box filter
            when shrinking, linear when enlarging); "crop" centre-crops/pads
            without resampling; "fit" resamples depth to D and scales rows and
            columns by one factor (respecting pixel spacing) so the slice fits
            in (H, W), then centre-pads with 0.
        series: SeriesInstanceUID when a DICOM folder holds several series.
        max_bytes: memory limit for the loaded volume (see ``load_volume``).
    """
    if fit not in FIT_MODES:
        raise ValueError(f"read_volume: `fit` must be one of {FIT_MODES}, got {fit!r}")
    volume, spacing = load_volume(path, series=series, max_bytes=max_bytes)
    volume = apply_window(volume, window)
    if shape is not None:
        if len(shape) != 3 or any(s is not None and int(s) < 1 for s in shape):
            raise ValueError(
                f"read_volume: `shape` must be (D, H, W) of positive ints, got {shape!r}"
            )
        target = tuple(volume.shape[i] if s is None else int(s) for i, s in enumerate(shape))
        if fit == "resize":
            volume = _resample(volume, target)
        elif fit == "crop":
            volume = center_crop_or_pad(volume, target)
        else:
            _, h, w = volume.shape
            scale = min(target[1] / (h * spacing[1]), target[2] / (w * spacing[2]))
            inner = (
                target[0],
                min(target[1], max(1, round(h * spacing[1] * scale))),
                min(target[2], max(1, round(w * spacing[2] * scale))),
            )
            volume = center_crop_or_pad(_resample(volume, inner), target)
    # In place: a copy here was a fourth volume-sized array at the peak.
    volume = np.asarray(volume, np.float32)
    return np.clip(volume, 0.0, 1.0, out=volume)[..., None]


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------


def write_nifti(path, volume, spacing=(1.0, 1.0, 1.0)):
    """Write a (D, H, W) or (D, H, W, 1) volume as NIfTI (``.nii`` / ``.nii.gz``), atomically.

    ``spacing`` is (d, h, w) in mm. The axes are stored in RAS+ so that
    ``load_volume`` returns the same array. Floats are stored as float32,
    integers keep their dtype.
    """
    nib = _require("nibabel")
    path = os.fspath(path)
    if not path.lower().endswith(NIFTI_SUFFIXES):
        raise ValueError(f"write_nifti: {path} must end with .nii or .nii.gz")
    volume = np.asarray(volume)
    if volume.ndim == 4 and volume.shape[-1] == 1:
        volume = volume[..., 0]
    if volume.ndim != 3 or min(volume.shape) < 1:
        raise DataError(
            "volume", f"expected shape (D, H, W) or (D, H, W, 1), found {volume.shape}"
        )
    if len(spacing) != 3 or min(float(s) for s in spacing) <= 0:
        raise ValueError(f"write_nifti: `spacing` must be 3 positive numbers, got {spacing!r}")
    if not np.issubdtype(volume.dtype, np.integer):
        volume = volume.astype(np.float32)
        if not np.isfinite(volume).all():
            raise DataError("volume", "holds NaN or infinite values; refusing to write them to " + path)
    data = np.ascontiguousarray(volume[:, ::-1, ::-1].transpose(2, 1, 0))
    d, h, w = (float(s) for s in spacing)
    affine = np.diag([w, h, d, 1.0])
    image = nib.Nifti1Image(data, affine)
    image.header.set_xyzt_units("mm")
    with atomic_path(path) as tmp:
        nib.save(image, tmp)
    return path
