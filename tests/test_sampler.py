"""UnpairedVideoDataset: batch layouts, augmentation, determinism, sources, model.fit."""

import os
import warnings

import keras
import numpy as np
import pytest

from keras_v2v.data.errors import DataError
from keras_v2v.data.sampler import UnpairedVideoDataset
from keras_v2v.data.sources import (
    ArraySource,
    FrameFolderSource,
    VideoFileSource,
    VideoSource,
    as_source,
)
from keras_v2v.data.video_write import write_video

N_VIDEOS, T, H, W = 5, 12, 16, 20


def coded_videos(n=N_VIDEOS, t=T, h=H, w=W, lengths=None):
    """uint8 videos whose pixels say where they come from.

    channel 0 = frame index * 10, channel 1 = video index * 40 (both constant
    over space, so crops and flips keep them), channel 2 = column * 12 (shows
    the crop offset and the flip).
    """
    videos = []
    for v in range(n):
        length = lengths[v] if lengths else t
        x = np.zeros((length, h, w, 3), np.uint8)
        x[..., 0] = (np.arange(length) * 10)[:, None, None]
        x[..., 1] = v * 40
        x[..., 2] = (np.arange(w) * 12)[None, None, :]
        videos.append(x)
    return videos if lengths else np.stack(videos)


def decode(batch):
    """[-1, 1] floats back to (frame index, video index, column code) per frame."""
    u = np.rint((batch + 1.0) * 127.5).astype(int)
    return u[..., 0, 0, 0] // 10, u[..., 0, 0, 1] // 40, u[..., 0, :, 2]


# ---------------------------------------------------------------- layouts


def test_random_mode_structure_and_range():
    ds = UnpairedVideoDataset(coded_videos(), coded_videos(), mode="random", batch_size=6,
                              steps_per_epoch=4)
    assert len(ds) == 4
    a, b = ds[0]
    assert a.shape == b.shape == (6, H, W, 3)
    assert a.dtype == b.dtype == np.float32
    seen_videos = set()
    for i in range(len(ds)):
        for x in ds[i]:
            assert x.min() >= -1.0 and x.max() <= 1.0
            seen_videos |= set(decode(x)[1].tolist())
    assert len(seen_videos) >= 3  # frames come from many videos


def test_sequential_mode_is_consecutive_frames_of_one_video():
    ds = UnpairedVideoDataset(coded_videos(), coded_videos(), mode="sequential", batch_size=5,
                              steps_per_epoch=10, crop_size=(8, 8))
    starts = set()
    for i in range(len(ds)):
        for x in ds[i]:
            assert x.shape == (5, 8, 8, 3)
            frames, videos, columns = decode(x)
            assert len(set(videos.tolist())) == 1
            np.testing.assert_array_equal(frames, frames[0] + np.arange(5))
            assert (columns == columns[0]).all()  # one crop and flip for the sequence
            starts.add((videos[0], frames[0]))
    assert len(starts) > 3


def test_clips_mode_is_contiguous_and_consistently_augmented():
    ds = UnpairedVideoDataset(coded_videos(), coded_videos(), mode="clips", batch_size=3,
                              clip_length=4, crop_size=(10, 12), flip=True, steps_per_epoch=12)
    offsets, directions = set(), set()
    for i in range(len(ds)):
        a, b = ds[i]
        assert a.shape == b.shape == (3, 4, 10, 12, 3)
        for clip in np.concatenate([a, b]):
            frames, videos, columns = decode(clip)
            assert len(set(videos.tolist())) == 1
            np.testing.assert_array_equal(frames, frames[0] + np.arange(4))
            assert (columns == columns[0]).all()
            step = np.diff(columns[0])
            assert (step == 12).all() or (step == -12).all()
            directions.add(int(step[0]))
            offsets.add(int(columns[0].min()))
    assert directions == {12, -12}  # flips happen, per clip
    assert len(offsets) > 2  # crops move


def test_no_flip_and_resize():
    ds = UnpairedVideoDataset(coded_videos(), coded_videos(), mode="clips", batch_size=2,
                              clip_length=3, resize=(8, 10), flip=False, steps_per_epoch=3)
    for i in range(3):
        a, _ = ds[i]
        assert a.shape == (2, 3, 8, 10, 3)
        assert (np.diff(a[..., 2], axis=-1) > 0).all()  # never flipped


def test_grey_and_float_sources():
    grey = np.random.default_rng(0).random((3, 6, 8, 8)).astype(np.float32)  # (N, T, H, W)
    ds = UnpairedVideoDataset(grey, coded_videos(), mode="random", batch_size=4, steps_per_epoch=2)
    a, b = ds[1]
    assert a.shape == (4, 8, 8, 1) and b.shape == (4, H, W, 3)
    assert a.min() >= -1 and a.max() <= 1
    # Float data in [-1, 1] must say so.
    with pytest.raises(ValueError, match="value_range"):
        UnpairedVideoDataset(grey * 2 - 1, grey, steps_per_epoch=1)
    ds = UnpairedVideoDataset(ArraySource(grey * 2 - 1, value_range=(-1, 1)), grey,
                              steps_per_epoch=1, flip=False, batch_size=2, seed=3)
    a, _ = ds[0]
    assert a.min() < -0.5  # kept its spread


def test_ragged_videos_and_short_ones_skipped():
    videos = coded_videos(n=3, lengths=[3, 9, 12])
    with pytest.warns(UserWarning, match="1 of 3 videos are shorter than 4"):
        ds = UnpairedVideoDataset(videos, videos, mode="clips", batch_size=4, clip_length=4,
                                  steps_per_epoch=5)
    for i in range(5):
        _, videos_seen, _ = decode(ds[i][0])
        assert 0 not in videos_seen


# ---------------------------------------------------------------- determinism


def test_deterministic_given_seed_epoch_index():
    def make(seed):
        return UnpairedVideoDataset(coded_videos(), coded_videos(), mode="clips", batch_size=2,
                                    clip_length=3, crop_size=(9, 9), steps_per_epoch=4, seed=seed)

    one, two, other = make(7), make(7), make(8)
    for i in (3, 0, 2):  # any order
        for x, y in zip(one[i], two[i]):
            np.testing.assert_array_equal(x, y)
    assert not all(np.array_equal(x, y) for x, y in zip(one[0], other[0]))
    before = one[1]
    one.on_epoch_end()
    assert one.epoch == 1
    assert not np.array_equal(one[1][0], before[0])  # a new epoch, new batches
    two.epoch = 1
    np.testing.assert_array_equal(one[1][0], two[1][0])
    with pytest.raises(IndexError):
        one[4]


def test_domains_are_unpaired():
    videos = coded_videos()
    ds = UnpairedVideoDataset(videos, videos, mode="sequential", batch_size=3, steps_per_epoch=20)
    same = 0
    for i in range(len(ds)):
        a, b = ds[i]
        same += np.array_equal(a, b)
    assert same < 5  # identical sources, yet A and B are drawn independently


class _Recorder(keras.Model):
    """Ignores B, records what it was fed (eagerly)."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.seen = []

    def call(self, x):
        return self.dense(keras.ops.mean(x, axis=tuple(range(1, len(x.shape) - 1))))

    def train_step(self, data):
        a, b = data
        self.seen.append((np.asarray(a), np.asarray(b)))
        return {"out": keras.ops.mean(self(a))}


tf_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the recording train_step is TensorFlow-style"
)


@tf_only
def test_fit_same_batches_with_two_workers():
    def run(workers):
        ds = UnpairedVideoDataset(coded_videos(), coded_videos(), mode="clips", batch_size=2,
                                  clip_length=3, crop_size=(8, 8), steps_per_epoch=3, seed=5,
                                  workers=workers)
        model = _Recorder()
        model.compile(run_eagerly=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # shuffle=False: Keras would shuffle batch order with Python's `random`.
            model.fit(ds, epochs=2, verbose=0, shuffle=False)
        return model.seen

    single, threaded = run(1), run(2)
    assert len(single) == len(threaded) == 6
    for (a1, b1), (a2, b2) in zip(single, threaded):
        np.testing.assert_array_equal(a1, a2)
        np.testing.assert_array_equal(b1, b2)
    assert not np.array_equal(single[0][0], single[3][0])  # epoch 2 differs from epoch 1


@tf_only
def test_fit_compiled_tiny_model():
    class OnlyA(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 3, padding="same")

        def train_step(self, data):
            a, _ = data  # b is ignored: unpaired data only needs to flow through
            return {"mean": keras.ops.mean(self.conv(a))}

    ds = UnpairedVideoDataset(coded_videos(), coded_videos(), mode="sequential", batch_size=4,
                              steps_per_epoch=3)
    model = OnlyA()
    model.compile()
    history = model.fit(ds, epochs=1, verbose=0)
    assert len(history.history["mean"]) == 1


# ---------------------------------------------------------------- sources


def test_video_file_and_frame_folder_sources(tmp_path):
    videos = coded_videos(n=2, t=10, h=16, w=16)
    paths = []
    for k, v in enumerate(videos):
        paths.append(write_video(tmp_path / f"v{k}.mp4", v, fps=10, keyframe_interval=4))
        write_video(tmp_path / "frames" / f"clip{k}", v)
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 300)

    with pytest.warns(UserWarning, match="broken.mp4"):
        files = VideoFileSource(tmp_path)  # a folder: every video file in it
    assert files.paths == paths and files.num_frames(1) == 10
    with pytest.raises(DataError, match="broken.mp4"):
        VideoFileSource([*paths, tmp_path / "broken.mp4"], on_error="raise")
    with pytest.warns(UserWarning, match="need at least 20"), pytest.raises(
        DataError, match="no readable video"
    ):
        VideoFileSource(paths, min_frames=20)

    folders = FrameFolderSource(tmp_path / "frames")
    assert len(folders) == 2 and folders.num_frames(0) == 10
    np.testing.assert_array_equal(folders.read(1, 2, 6), videos[1][2:6])
    assert isinstance(files, VideoSource) and isinstance(folders, VideoSource)
    listed = as_source([tmp_path / "frames" / "clip0", tmp_path / "frames" / "clip1"])
    assert isinstance(listed, FrameFolderSource) and len(listed) == 2

    ds = UnpairedVideoDataset(files, folders, mode="clips", batch_size=2, clip_length=5,
                              steps_per_epoch=2)
    a, b = ds[0]
    assert a.shape == b.shape == (2, 5, 16, 16, 3)
    frames, _, _ = decode(b)  # lossless PNG side decodes exactly
    np.testing.assert_array_equal(frames, frames[:, :1] + np.arange(5))
    ds = UnpairedVideoDataset(files, folders, mode="random", batch_size=3, steps_per_epoch=1)
    assert ds[0][0].shape == (3, 16, 16, 3)


def test_as_source():
    array = coded_videos()
    src = ArraySource(array)
    assert as_source(src) is src
    assert isinstance(as_source(array), ArraySource)
    assert len(as_source(list(array))) == N_VIDEOS
    with pytest.raises(TypeError, match="video source"):
        as_source(42)
    with pytest.raises(ValueError, match="shape"):
        ArraySource(np.zeros((2, 3, 4)))
    with pytest.raises(IndexError, match="outside"):
        src.read(0, 5, T + 1)


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "shuffled"}, "unknown mode 'shuffled'; valid modes: 'random', 'sequential', 'clips'"),
        ({"mode": "clips", "clip_length": T + 1}, "shorter than the 13 consecutive frames"),
        ({"mode": "sequential", "batch_size": T + 5}, "shorter than the 17"),
        ({"crop_size": (H + 1, 4)}, r"crop_size \(17, 4\) is bigger than the frames of source_a \(16x20\)"),
        ({"crop_size": (8, 8), "resize": (6, 6)}, "bigger than the resized frames"),
        ({"batch_size": 0}, "batch_size"),
        ({"clip_length": 0}, "clip_length"),
        ({"steps_per_epoch": 0}, "steps_per_epoch"),
        ({"resize": (0, 3)}, "resize"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        UnpairedVideoDataset(coded_videos(), coded_videos(), **kwargs)


def test_default_epoch_length():
    small = coded_videos(n=2)
    ds = UnpairedVideoDataset(coded_videos(), small, mode="random", batch_size=4)
    assert len(ds) == int(np.ceil(N_VIDEOS * T / 4))
    ds = UnpairedVideoDataset(coded_videos(), small, mode="clips", batch_size=2, clip_length=3)
    assert len(ds) == int(np.ceil(N_VIDEOS * T / 6))


def test_mixed_sizes_need_resize(tmp_path):
    videos = [coded_videos(n=1)[0], coded_videos(n=1, h=20, w=24)[0]]
    ds = UnpairedVideoDataset(videos, videos, mode="random", batch_size=8, steps_per_epoch=3)
    with pytest.raises(ValueError, match="differ in size"):
        for i in range(3):
            ds[i]
    ds = UnpairedVideoDataset(videos, videos, mode="random", batch_size=8, resize=(16, 20),
                              steps_per_epoch=3)
    assert ds[0][0].shape == (8, 16, 20, 3)
    assert os.listdir(tmp_path) == []
