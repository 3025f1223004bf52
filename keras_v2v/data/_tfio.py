"""Run-time check of whether tensorflow-io's native video and DICOM ops work.

tensorflow-io ships compiled kernels built against one TensorFlow release. With
newer TensorFlow (e.g. 2.21 with tensorflow-io 0.37) the package imports, but
every native op raises ``NotImplementedError`` ("could not find ffmpeg",
"unable to open file: libtensorflow_io.so"). So "is it installed" is not the
question; "does a real decode succeed" is. Each probe decodes a tiny in-memory
sample once per process and caches the answer.

The readers in ``video_io`` and ``volume_io`` use tensorflow-io only where its
probe passes and fall back to PyAV / pydicom otherwise, so results never depend
on it being usable.

Probing needs TensorFlow imported and runs a TensorFlow op, which on a GPU
machine initialises the GPU. So by default the probe runs only when TensorFlow
is already imported in this process (the user is on the TensorFlow backend).
The environment variable ``KERAS_V2V_TFIO`` overrides this:
``"0"`` never uses tensorflow-io, ``"1"`` imports TensorFlow to probe if needed.
"""

import functools
import importlib.util
import io
import os
import sys
import warnings

import numpy as np

ENV_VAR = "KERAS_V2V_TFIO"


def _allowed():
    """Whether we may import/probe tensorflow-io in this process at all."""
    setting = os.environ.get(ENV_VAR, "").strip()
    if setting == "0":
        return False
    if importlib.util.find_spec("tensorflow_io") is None:
        return False
    # Importing TensorFlow just for a probe is slow and may grab a GPU.
    return setting == "1" or "tensorflow" in sys.modules


@functools.cache
def _import_tfio():
    """Import tensorflow-io, silencing its warnings about unloadable kernels."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tensorflow as tf
        import tensorflow_io as tfio
    return tf, tfio


def _tiny_mp4():
    """Two 16x16 H.264 frames, made with PyAV, as bytes."""
    import av

    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=2)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        for value in (0, 255):
            frame = av.VideoFrame.from_ndarray(
                np.full((16, 16, 3), value, np.uint8), format="rgb24"
            )
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def _tiny_dicom():
    """A 4x4 uint16 single-slice DICOM file, made with pydicom, as bytes."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = 4, 4
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = np.arange(16, dtype="<u2").tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@functools.cache
def video_ops_available():
    """True when ``tfio.experimental.ffmpeg.decode_video`` really decodes here."""
    if not _allowed():
        return False
    try:
        with warnings.catch_warnings():  # tfio warns about each .so it cannot load
            warnings.simplefilter("ignore")
            frames = decode_video(_tiny_mp4())
        return frames.shape == (2, 16, 16, 3)
    except Exception:  # any failure (NotImplementedError, missing .so) means "no"
        return False


@functools.cache
def dicom_ops_available():
    """True when ``tfio.image.decode_dicom_image`` really decodes here."""
    if not _allowed() or importlib.util.find_spec("pydicom") is None:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels = decode_dicom_pixels(_tiny_dicom())
        return pixels.shape == (1, 4, 4) and int(pixels[0, 3, 3]) == 15
    except Exception:
        return False


def decode_video(data):
    """Decode video bytes with tensorflow-io -> uint8 (T, H, W, 3).

    Call only after ``video_ops_available()`` returned True.
    """
    tf, tfio = _import_tfio()
    frames = tfio.experimental.ffmpeg.decode_video(tf.constant(data))
    return np.asarray(frames.numpy(), dtype=np.uint8)


def decode_dicom_pixels(data):
    """Decode the stored pixel values of DICOM bytes -> (frames, rows, cols).

    Call only after ``dicom_ops_available()`` returned True.
    """
    tf, tfio = _import_tfio()
    pixels = tfio.image.decode_dicom_image(
        tf.constant(data), on_error="strict", scale="preserve", dtype=tf.uint16
    )
    return np.asarray(pixels.numpy())[..., 0]


def clear_cache():
    """Forget the probe results (e.g. after changing ``KERAS_V2V_TFIO``)."""
    video_ops_available.cache_clear()
    dicom_ops_available.cache_clear()
