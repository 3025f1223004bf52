import keras
import numpy as np
import pytest

from keras_v2v.models import inference
from keras_v2v.models.inference import tent_weights, window_starts

from helpers import tiny_2d, tiny_3d

pytestmark = pytest.mark.multibackend


@pytest.fixture(scope="module")
def model_3d():
    return tiny_3d(depth=8, size=16, channels=3)


@pytest.mark.parametrize("frames", [1, 7, 31])
def test_3d_translate_any_length(model_3d, rng, frames):
    video = rng.integers(0, 256, (frames, 20, 18, 3), dtype=np.uint8)
    out = model_3d.translate(video, batch_size=2)
    assert out.shape == video.shape and out.dtype == np.uint8


def test_3d_translate_constant_video_has_no_window_seams(model_3d, rng):
    frame = rng.integers(0, 256, (1, 16, 16, 3), dtype=np.uint8)
    video = np.repeat(frame, 31, axis=0)
    out = model_3d.translate(video, overlap=3, batch_size=2).astype(int)
    assert np.abs(out - out[:1]).max() <= 1  # rounding to uint8 only


def test_3d_translate_float_and_batch_inputs(model_3d, rng):
    video = rng.uniform(0, 1, (2, 9, 16, 16, 3)).astype("float32")
    out = model_3d.translate(video, direction="b2a")
    assert out.shape == video.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(out[1], model_3d.translate(video[1], direction="b2a"), atol=1e-5)


def test_windowed_translation_equals_the_network_inside_one_window(model_3d, rng):
    video = rng.uniform(0, 1, (8, 16, 16, 3)).astype("float32")
    direct = keras.ops.convert_to_numpy(model_3d.generator_a2b(video[None] * 2 - 1))[0]
    np.testing.assert_allclose(model_3d.translate(video), (direct + 1) / 2, atol=1e-5)


@pytest.mark.parametrize("frames", [9, 13, 40])
def test_first_and_last_frames_of_a_long_video_are_translated_inside_a_window_not_at_its_edge(frames):
    # A stand-in network whose output is each frame's position in its window (0 = first, 1 = last).
    def position(batch):
        depth = batch.shape[1]
        where = np.linspace(-1, 1, depth, dtype=np.float32)[None, :, None, None, None]
        return np.broadcast_to(where, batch.shape).copy()

    video = np.zeros((frames, 4, 4, 1), np.float32)
    out = inference.translate(position, video, rank=3, channels=1, window=8, batch_size=3)[:, 0, 0, 0]
    # Every frame, the first and the last included, is blended from windows that see it near their middle.
    assert out.shape == (frames,)
    assert 0.3 < out[0] < 0.7 and 0.3 < out[-1] < 0.7
    assert np.all((out > 0.25) & (out < 0.75))


def test_batch_size_does_not_change_the_result(model_3d, rng):
    video = rng.uniform(0, 1, (29, 16, 16, 3)).astype("float32")
    one = model_3d.translate(video, batch_size=1)
    many = model_3d.translate(video, batch_size=8)
    np.testing.assert_allclose(one, many, atol=1e-5)


def test_2d_translate_runs_frames_in_batches(rng):
    model = tiny_2d(channels=1, channels_b=3)
    calls = []
    video = rng.integers(0, 256, (11, 16, 16, 1), dtype=np.uint8)
    out = model.translate(video, batch_size=4, progress=lambda done, total: calls.append((done, total)))
    assert out.shape == (11, 16, 16, 3) and out.dtype == np.uint8
    assert calls == [(4, 11), (8, 11), (11, 11)]


def test_translate_rejects_bad_inputs(model_3d):
    with pytest.raises(ValueError, match=r"\(T, H, W, C\)"):
        model_3d.translate(np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="has 2 channels but the model's source domain has 3"):
        model_3d.translate(np.zeros((4, 16, 16, 2), np.uint8))
    with pytest.raises(ValueError, match="dtype"):
        model_3d.translate(np.zeros((4, 16, 16, 3), np.int64))
    with pytest.raises(ValueError, match="direction"):
        model_3d.translate(np.zeros((4, 16, 16, 3), np.uint8), direction="a2c")


def test_translate_converts_grey_and_rgb_to_the_source_domain_as_the_cli_does(model_3d, rng):
    from keras_v2v import data

    grey_model = tiny_3d(depth=8, size=16, channels=1)
    rgb = rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8)  # what read_video returns
    grey = data.to_channels(rgb, 1)
    assert np.array_equal(grey_model.translate(rgb), grey_model.translate(grey))
    assert grey_model.translate(rgb).shape == (8, 16, 16, 1)
    floats = rgb.astype(np.float32) / 255.0  # float in [0, 1] stays in [0, 1]
    assert np.allclose(data.to_channels(floats, 1), grey / 255.0, atol=0.5 / 255 + 1e-6)
    assert np.array_equal(model_3d.translate(grey), model_3d.translate(np.repeat(grey, 3, axis=-1)))


def test_window_plan_covers_every_frame():
    for frames in (8, 9, 15, 16, 100):
        starts = window_starts(frames, 8, 4)
        covered = np.zeros(frames, bool)
        for s in starts:
            covered[s : s + 8] = True
        assert covered.all() and starts[-1] == frames - 8
    assert tent_weights(4).tolist() == [1, 2, 2, 1]


@pytest.mark.parametrize("path", ["clip.mp4", "scan.nii.gz"])
def test_a_path_is_refused_with_the_reader_to_use(model_3d, path):
    import pathlib

    for given in (path, pathlib.Path(path)):
        with pytest.raises(ValueError) as error:
            model_3d.translate(given)
        message = str(error.value)
        assert f"keras_v2v.data.read_video({path!r})" in message and f"read_volume({path!r})" in message
        assert "got an array of shape ()" not in message and "\n" not in message
