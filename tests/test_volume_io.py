"""NIfTI and DICOM volume reading: order, HU rescale, windowing, resampling, errors."""

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from keras_v2v.data.errors import DataError
from keras_v2v.data.volume_io import (
    WINDOW_PRESETS,
    apply_window,
    load_volume,
    read_volume,
    write_nifti,
)


def write_ct_series(folder, hu, *, spacing=(2.5, 0.7, 0.8), series_uid=None, shuffle=True,
                    slope=1.0, intercept=-1024.0, positions=True, names=None):
    """Write ``hu`` (D, H, W) as a CT DICOM series, one file per slice.

    Files are named and written in a scrambled order, and InstanceNumber runs
    backwards, so only ImagePositionPatient gives the right order.
    """
    os.makedirs(folder, exist_ok=True)
    series_uid = series_uid or generate_uid()
    depth = hu.shape[0]
    order = np.random.default_rng(1).permutation(depth) if shuffle else np.arange(depth)
    for file_index, z in enumerate(order):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.SeriesInstanceUID = series_uid
        ds.Modality = "CT"
        ds.Rows, ds.Columns = hu.shape[1:]
        ds.PixelSpacing = [spacing[1], spacing[2]]
        ds.SliceThickness = spacing[0]
        if positions:
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            ds.ImagePositionPatient = [-100.0, -120.0, 40.0 + spacing[0] * z]
            ds.InstanceNumber = depth - int(z)  # deliberately reversed
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        stored = np.round((hu[z] - intercept) / slope).astype("<i2")
        ds.PixelData = stored.tobytes()
        name = names[file_index] if names else f"IM{file_index:04d}.dcm"
        ds.save_as(os.path.join(folder, name), enforce_file_format=True)
    return folder


def ct_volume(d=6, h=10, w=12):
    """Each slice has a distinct constant offset so slice order is visible."""
    rng = np.random.default_rng(0)
    base = rng.integers(-1000, 1500, (d, h, w)).astype(np.float32)
    base[:, 0, 0] = np.arange(d) * 100  # a marker per slice
    return base


# ---------------------------------------------------------------- NIfTI


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_nifti_round_trip(tmp_path, suffix):
    volume = np.random.default_rng(0).random((5, 7, 9)).astype(np.float32)
    volume[0, 0, 0], volume[-1, -1, -1] = 0.0, 1.0
    path = write_nifti(tmp_path / f"v{suffix}", volume, spacing=(3.0, 0.5, 0.6))
    data, spacing = load_volume(path)
    np.testing.assert_array_equal(data, volume)
    assert spacing == pytest.approx((3.0, 0.5, 0.6))
    out = read_volume(path, window=(0.0, 1.0))
    assert out.shape == (5, 7, 9, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[..., 0], volume, atol=1e-6)
    assert [n for n in os.listdir(tmp_path) if n.startswith(".")] == []


def test_nifti_reoriented_to_canonical(tmp_path):
    """A NIfTI stored in LPS order reads the same as its RAS twin."""
    volume = np.random.default_rng(1).random((4, 5, 6)).astype(np.float32)
    ras = write_nifti(tmp_path / "ras.nii", volume)
    img = nib.load(ras)
    flipped = nib.Nifti1Image(
        np.asarray(img.dataobj)[::-1, ::-1, :].copy(),
        img.affine @ np.diag([-1, -1, 1, 1]) + np.array(
            [[0, 0, 0, 5], [0, 0, 0, 4], [0, 0, 0, 0], [0, 0, 0, 0]]
        ),
    )
    nib.save(flipped, tmp_path / "lps.nii")
    np.testing.assert_array_equal(load_volume(tmp_path / "lps.nii")[0], volume)


def test_nifti_4d_and_bad_files(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4, 2), np.float32), np.eye(4)), tmp_path / "t.nii")
    with pytest.raises(DataError, match="t.nii: expected a 3D volume"):
        load_volume(tmp_path / "t.nii")
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4, 1), np.float32), np.eye(4)), tmp_path / "s.nii")
    assert load_volume(tmp_path / "s.nii")[0].shape == (4, 4, 4)
    (tmp_path / "junk.nii.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DataError, match="junk.nii.gz: not a readable NIfTI"):
        read_volume(tmp_path / "junk.nii.gz")
    good = write_nifti(tmp_path / "good.nii.gz", np.ones((8, 8, 8), np.float32))
    with open(good, "rb") as fh:
        data = fh.read()
    (tmp_path / "cut.nii.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cut.nii.gz"):
        read_volume(tmp_path / "cut.nii.gz")
    (tmp_path / "empty.nii").write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        read_volume(tmp_path / "empty.nii")
    with pytest.raises(DataError, match="no such file"):
        read_volume(tmp_path / "nope.nii")
    with pytest.raises(ValueError, match=".nii"):
        write_nifti(tmp_path / "v.npy", np.zeros((2, 2, 2)))


def test_nan_voxels_become_minimum(tmp_path):
    volume = np.arange(27, dtype=np.float32).reshape(3, 3, 3)
    volume[1, 1, 1] = np.nan
    import nibabel as nib

    # Written with nibabel: write_nifti refuses NaN, but files from elsewhere hold it.
    path = tmp_path / "n.nii"
    nib.save(nib.Nifti1Image(volume.transpose(2, 1, 0)[::-1, ::-1], np.eye(4)), path)
    data, _ = load_volume(path)
    assert np.isfinite(data).all() and data[1, 1, 1] == 0


# ---------------------------------------------------------------- DICOM


def test_dicom_series_order_and_hu(tmp_path):
    hu = ct_volume()
    folder = write_ct_series(tmp_path / "ct", hu)
    (tmp_path / "ct" / "README.txt").write_text("not dicom")  # ignored
    data, spacing = load_volume(folder)
    np.testing.assert_array_equal(data, hu)
    assert spacing == pytest.approx((2.5, 0.7, 0.8))


def test_dicom_rescale_slope_and_instance_number_fallback(tmp_path):
    hu = ct_volume(d=4) // 2 * 2  # even values: exact with slope 2
    folder = write_ct_series(tmp_path / "ct", hu, slope=2.0, intercept=-3000.0)
    np.testing.assert_array_equal(load_volume(folder)[0], hu)
    # Without positions, slices fall back to file-name order, with a warning.
    plain = write_ct_series(tmp_path / "plain", hu, positions=False, shuffle=False)
    with pytest.warns(UserWarning, match="file name"):
        np.testing.assert_array_equal(load_volume(plain)[0], hu)


def test_dicom_windowing_and_resampling(tmp_path):
    hu = ct_volume(d=6, h=10, w=12)
    folder = write_ct_series(tmp_path / "ct", hu)
    out = read_volume(folder, shape=(3, 5, 6), window="ct-brain")
    assert out.shape == (3, 5, 6, 1) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    full = read_volume(folder, window=(-1000, 1000))
    expected = np.clip((hu + 1000) / 2000, 0, 1)
    np.testing.assert_allclose(full[..., 0], expected, atol=1e-6)
    lo, hi = WINDOW_PRESETS["ct-brain"]
    brain = read_volume(folder, window="ct-brain")[..., 0]
    np.testing.assert_allclose(brain, np.clip((hu - lo) / (hi - lo), 0, 1), atol=1e-6)


def test_fit_modes(tmp_path):
    volume = np.random.default_rng(0).random((4, 10, 20)).astype(np.float32)
    path = write_nifti(tmp_path / "v.nii", volume)
    assert read_volume(path, shape=(8, 30, 30)).shape == (8, 30, 30, 1)
    crop = read_volume(path, shape=(4, 6, 24), fit="crop", window=(0, 1))[..., 0]
    np.testing.assert_allclose(crop[:, :, 2:22], volume[:, 2:8, :], atol=1e-6)
    assert (crop[:, :, :2] == 0).all() and (crop[:, :, 22:] == 0).all()
    fit = read_volume(path, shape=(4, 16, 16), fit="fit")[..., 0]
    # 10x20 scaled by 0.8 -> 8x16, centred with 4 rows of padding above and below.
    assert (fit[:, :4] == 0).all() and (fit[:, 12:] == 0).all() and fit[:, 4:12].max() > 0
    keep = read_volume(path, shape=(None, 5, 10))
    assert keep.shape == (4, 5, 10, 1)
    with pytest.raises(ValueError, match="fit"):
        read_volume(path, shape=(4, 4, 4), fit="stretch")
    with pytest.raises(ValueError, match="unknown window preset"):
        read_volume(path, window="ct-elbow")
    with pytest.raises(ValueError, match="hi > lo"):
        read_volume(path, window=(5, 1))


def test_mr_percentile_window():
    volume = np.concatenate([np.zeros(990), np.linspace(0, 100, 9), [1e6]]).astype(np.float32)
    out = apply_window(volume, "mr")
    assert out.max() == 1.0 and np.median(out) == 0.0  # outlier clipped, not squashing


def test_dicom_errors(tmp_path):
    hu = ct_volume(d=3)
    write_ct_series(tmp_path / "two", hu, series_uid="1.2.3.1")
    write_ct_series(tmp_path / "two", hu, series_uid="1.2.3.2", names=["b0", "b1", "b2"])
    with pytest.raises(DataError, match="2 DICOM series.*series="):
        load_volume(tmp_path / "two")
    np.testing.assert_array_equal(load_volume(tmp_path / "two", series="1.2.3.2")[0], hu)

    (tmp_path / "nodicom").mkdir()
    (tmp_path / "nodicom" / "a.txt").write_text("hello")
    with pytest.raises(DataError, match="no DICOM image files"):
        load_volume(tmp_path / "nodicom")

    mixed = write_ct_series(tmp_path / "mixed", hu)
    write_ct_series(
        tmp_path / "odd", np.zeros((1, 5, 5), np.float32),
        series_uid=pydicom.dcmread(os.path.join(mixed, "IM0000.dcm")).SeriesInstanceUID,
        names=["zz.dcm"],
    )
    os.replace(tmp_path / "odd" / "zz.dcm", os.path.join(mixed, "zz.dcm"))
    with pytest.raises(DataError, match="one series must have one size|share one position"):
        load_volume(mixed)

    for cut in (100, 300, -50):  # meta header, dataset header, pixel data cut short
        broken = write_ct_series(tmp_path / f"broken{cut}", hu)
        first = Path(broken) / "IM0000.dcm"
        first.write_bytes(first.read_bytes()[:cut])
        with pytest.raises(DataError, match="IM0000.dcm: .*(damaged|no pixel|decoded)"):
            load_volume(broken)


def test_dicom_with_a_damaged_value_representation_is_a_data_error(tmp_path):
    # Found by tests/fuzzing.py: pydicom parses header values lazily and raised
    # NotImplementedError("Unknown Value Representation") past the reader.
    folder = write_ct_series(tmp_path / "ct", ct_volume(d=3))
    first = Path(folder) / "IM0000.dcm"
    raw = first.read_bytes()
    tag = b"\x20\x00\x0e\x00UI"  # (0020,000E) SeriesInstanceUID, explicit VR little endian
    assert tag in raw
    first.write_bytes(raw.replace(tag, b"\x20\x00\x0e\x00\x55\xc9"))
    with pytest.raises(DataError, match="IM0000.dcm|ct: damaged DICOM header"):
        load_volume(folder)


def test_dicom_skips_dicomdir_and_warns_on_missing_slice(tmp_path):
    hu = ct_volume(d=5)
    folder = write_ct_series(tmp_path / "ct", hu)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"  # Media Storage Directory
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.save_as(os.path.join(folder, "DICOMDIR"), enforce_file_format=True)
    np.testing.assert_array_equal(load_volume(folder)[0], hu)
    ordered = sorted(os.listdir(folder))
    victim = next(
        n for n in ordered
        if n.endswith(".dcm")
        and float(pydicom.dcmread(os.path.join(folder, n)).ImagePositionPatient[2]) == 45.0
    )
    os.remove(os.path.join(folder, victim))  # the slice at z index 2
    with pytest.warns(UserWarning, match="a slice may be missing"):
        data, _ = load_volume(folder)
    np.testing.assert_array_equal(data, hu[[0, 1, 3, 4]])
