"""Video/GIF/PNG-folder reading and writing, resizing, side-by-side writer, tfio probe."""

import fractions
import os
import sys

import av
import numpy as np
import pytest

from keras_v2v.data import _tfio, video_io, video_write
from keras_v2v.data.errors import DataError
from keras_v2v.data.video_io import (
    VideoInfo,
    read_frames,
    read_video,
    video_info,
)
from keras_v2v.data.resize import resize_frames
from keras_v2v.data.video_write import write_video
from keras_v2v.data.writers import side_by_side, write_side_by_side


def smooth_video(t=24, h=32, w=48):
    """Smooth moving colour gradients: what lossy codecs handle well."""
    tt = np.arange(t)[:, None, None]
    yy = np.arange(h)[None, :, None]
    xx = np.arange(w)[None, None, :]
    shape = (t, h, w)
    r = np.broadcast_to(128 + 90 * np.sin(xx / 9 + tt / 5 + yy / 13), shape)
    g = np.broadcast_to(128 + 90 * np.cos(yy / 7 - tt / 7 + 0 * xx), shape)
    b = np.broadcast_to(128 + 60 * np.sin((xx + yy) / 11 + tt / 3), shape)
    return np.stack([r, g, b], -1).astype(np.uint8)


def few_colour_video(t=10, h=31, w=45, seed=0):
    """At most 256 colours per frame: GIF stores these exactly."""
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, (20, 3), dtype=np.uint8)
    return palette[rng.integers(0, 20, (t, h, w))]


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


@pytest.fixture(scope="module")
def mp4(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("mp4") / "clip.mp4")
    frames = smooth_video(40)
    write_video(path, frames, fps=25, keyframe_interval=8)
    return path, frames


# ---------------------------------------------------------------- round trips


def test_mp4_round_trip_psnr(mp4):
    path, frames = mp4
    out = read_video(path)
    assert out.dtype == np.uint8 and out.shape == frames.shape
    assert psnr(out, frames) > 30


def test_gif_round_trip_exact_with_few_colours(tmp_path):
    frames = few_colour_video()
    path = write_video(tmp_path / "a.gif", frames, fps=10)
    out = read_video(path)
    assert out.shape == frames.shape
    np.testing.assert_array_equal(out, frames)


@pytest.mark.parametrize("pillow", [True, False])
def test_gif_many_colours_is_quantised_reasonably(tmp_path, monkeypatch, pillow):
    if not pillow:
        monkeypatch.setitem(sys.modules, "PIL", None)  # forces the colour-cube fallback
    frames = smooth_video(6)
    out = read_video(write_video(tmp_path / "a.gif", frames, fps=10))
    assert out.shape == frames.shape and psnr(out, frames) > 22


def test_png_folder_round_trip_exact(tmp_path):
    frames = smooth_video(7, 17, 23)
    folder = write_video(tmp_path / "frames", frames)
    assert min(os.listdir(folder)) == "frame_00000.png"
    np.testing.assert_array_equal(read_video(folder), frames)
    np.testing.assert_array_equal(read_frames(folder, 2, 5), frames[2:5])
    # Writing again replaces the folder's frames atomically.
    write_video(folder, frames[:3])
    assert len(os.listdir(folder)) == 3


def test_frame_folder_is_sorted_naturally(tmp_path):
    frames = few_colour_video(t=12, h=8, w=8)
    folder = tmp_path / "seq"
    folder.mkdir()
    for k, f in enumerate(frames):
        video_write.write_image(folder / f"img{k}.png", f)  # img10 must follow img9
    np.testing.assert_array_equal(read_frames(folder), frames)
    assert video_info(folder) == VideoInfo(12, None, 8, 8)


@pytest.mark.parametrize("suffix", [".mkv", ".mov", ".webm"])
def test_other_containers_round_trip(tmp_path, suffix):
    frames = smooth_video(20)
    path = write_video(tmp_path / f"a{suffix}", frames, fps=20, keyframe_interval=5)
    full = read_video(path)
    assert full.shape == frames.shape and psnr(full, frames) > 28
    np.testing.assert_array_equal(read_video(path, 7, 13), full[7:13])


def test_avi_written_by_ffmpeg_reads(tmp_path):
    frames = smooth_video(12)
    path = str(tmp_path / "a.avi")
    with av.open(path, "w") as c:
        s = c.add_stream("mpeg4", rate=12)
        s.width, s.height, s.pix_fmt = 48, 32, "yuv420p"
        s.options = {"qscale": "2"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    full = read_video(path)
    assert full.shape == frames.shape and psnr(full, frames) > 25
    np.testing.assert_array_equal(read_video(path, 4, 9), full[4:9])


# ---------------------------------------------------------------- time windows


@pytest.mark.parametrize("window", [(0, 5), (8, 16), (13, 29), (21, 22), (39, 40), (30, None)])
def test_window_equals_full_decode(mp4, window):
    path, _ = mp4
    start, stop = window
    full = read_video(path)
    out = read_video(path, start, stop)
    np.testing.assert_array_equal(out, full[start:stop])


def test_window_seeks_instead_of_decoding_from_start(mp4, monkeypatch):
    path, _ = mp4
    full = read_video(path)

    def refuse(*args):
        raise AssertionError("decoded from the first frame")

    monkeypatch.setattr(video_io, "_read_sequential", refuse)
    np.testing.assert_array_equal(read_video(path, 25, 31), full[25:31])


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_window_exact_with_variable_frame_rate(tmp_path, suffix):
    """A 0.3 s pause after frame 10: timestamp / fps would misplace later frames."""
    frames = smooth_video(30)
    path = str(tmp_path / f"vfr{suffix}")
    with av.open(path, "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 48, 32, "yuv420p"
        s.options = {"g": "6"}
        s.codec_context.time_base = fractions.Fraction(1, 1000)
        t = 0
        for k, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts, vf.time_base = t, fractions.Fraction(1, 1000)
            t += 300 if k == 10 else 33
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    full = read_video(path)
    assert len(full) == 30
    for start, stop in [(3, 9), (20, 30), (12, 14), (29, None)]:
        np.testing.assert_array_equal(read_video(path, start, stop), full[start:stop])


def test_gif_window_and_max_frames(tmp_path):
    frames = few_colour_video(t=9)
    path = write_video(tmp_path / "a.gif", frames, fps=10)
    np.testing.assert_array_equal(read_video(path, 3, 7), frames[3:7])
    np.testing.assert_array_equal(read_video(path, 2, max_frames=3), frames[2:5])


def test_window_past_end_and_bad_window(mp4):
    path, _ = mp4
    with pytest.raises(DataError, match="only 40"):
        read_video(path, 35, 45)
    with pytest.raises(DataError, match="only 40"):
        read_video(path, 40)
    with pytest.raises(ValueError, match="stop > start"):
        read_video(path, 5, 5)
    with pytest.raises(ValueError, match="non-negative"):
        read_video(path, -1)


# ---------------------------------------------------------------- info


def test_video_info(mp4, tmp_path):
    path, _ = mp4
    assert video_info(path) == VideoInfo(40, 25.0, 32, 48)
    gif = write_video(tmp_path / "a.gif", few_colour_video(t=7), fps=10)
    info = video_info(gif)  # GIF headers carry no count: decode count
    assert info.frames == 7 and (info.height, info.width) == (31, 45)
    assert info.fps == pytest.approx(10.0)


# ---------------------------------------------------------------- input forms


def test_odd_sizes_are_edge_padded_in_mp4(tmp_path):
    frames = smooth_video(6, 33, 47)
    out = read_video(write_video(tmp_path / "odd.mp4", frames, fps=10))
    assert out.shape == (6, 34, 48, 3)
    assert psnr(out[:, :33, :47], frames) > 30
    # The padded row/column repeat the edge.
    assert psnr(out[:, 33, :47], frames[:, 32]) > 28
    gif = read_video(write_video(tmp_path / "odd.gif", few_colour_video(3, 33, 47)))
    assert gif.shape == (3, 33, 47, 3)


@pytest.mark.parametrize("form", ["grey4d", "grey3d", "float", "bool"])
def test_grey_float_bool_inputs(tmp_path, form):
    base = smooth_video(4)[..., 0]
    frames = {
        "grey4d": base[..., None],
        "grey3d": base,
        "float": base.astype(np.float32) / 255.0,
        "bool": base > 128,
    }[form]
    expected = base if form != "bool" else (base > 128).astype(np.uint8) * 255
    out = read_video(write_video(tmp_path / "g", frames))  # PNG folder: lossless
    assert out.shape == base.shape + (3,)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], expected)


def test_iterable_of_frames_is_accepted(tmp_path):
    frames = smooth_video(5)
    out = read_video(write_video(tmp_path / "it.mp4", (f for f in frames), fps=5))
    assert out.shape == frames.shape


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((3, 8, 8, 2), np.uint8), "shape"),
        (np.zeros((0, 8, 8, 3), np.uint8), "zero frames"),
        (np.full((2, 8, 8, 3), 2.0, np.float32), r"\[0, 1\]"),
        (np.full((2, 8, 8, 3), -0.5, np.float32), r"\(x \+ 1\) / 2"),
        (np.full((2, 8, 8, 3), np.nan, np.float32), "NaN"),
        (np.full((2, 8, 8, 3), 300, np.int32), r"\[0, 255\]"),
        (np.zeros((8, 8), np.uint8), "shape"),
    ],
)
def test_bad_frames_raise_data_error(tmp_path, bad, match):
    with pytest.raises(DataError, match=match):
        write_video(tmp_path / "bad.mp4", bad)
    assert os.listdir(tmp_path) == []


def test_unsupported_write_suffix(tmp_path):
    with pytest.raises(ValueError, match="supported suffixes"):
        write_video(tmp_path / "a.avi", smooth_video(2))


# ---------------------------------------------------------------- atomic writes


@pytest.mark.parametrize("name", ["out.mp4", "out.gif", "out_frames"])
def test_failed_write_leaves_no_partial_file(tmp_path, name):
    frames = smooth_video(6)
    target = tmp_path / name

    def exploding():
        for k, f in enumerate(frames):
            if k == 3:
                raise RuntimeError("disk full")
            yield f

    with pytest.raises(RuntimeError, match="disk full"):
        write_video(target, exploding(), fps=5)
    assert os.listdir(tmp_path) == []

    # An existing file survives a failed overwrite untouched.
    write_video(target, frames[:2], fps=5)
    before = sorted(os.listdir(tmp_path))
    snapshot = read_video(target)
    with pytest.raises(RuntimeError):
        write_video(target, exploding(), fps=5)
    assert sorted(os.listdir(tmp_path)) == before
    np.testing.assert_array_equal(read_video(target), snapshot)


def test_refuses_to_replace_folder_with_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="non-image"):
        write_video(tmp_path, smooth_video(2))
    assert (tmp_path / "notes.txt").exists()


# ---------------------------------------------------------------- bad files


def test_bad_files_raise_data_error(tmp_path, mp4):
    with pytest.raises(DataError, match="no such file"):
        read_video(tmp_path / "missing.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        read_video(empty)
    text = tmp_path / "text.mp4"
    text.write_text("this is not a video at all " * 20)
    with pytest.raises(DataError, match="text.mp4"):
        read_video(text)
    with pytest.raises(DataError, match="text.mp4"):
        video_info(text)
    truncated = tmp_path / "trunc.mp4"
    with open(mp4[0], "rb") as fh:
        data = fh.read()
    truncated.write_bytes(data[: len(data) * 2 // 3])  # index (faststart) kept, frames cut
    with pytest.raises(DataError, match="trunc.mp4: .*(truncated|corrupt)"):
        read_video(truncated)
    with pytest.raises(DataError, match="no .png"):
        read_frames(tmp_path)


def test_audio_only_file_has_no_video_stream(tmp_path):
    path = str(tmp_path / "tone.wav")
    with av.open(path, "w") as c:
        s = c.add_stream("pcm_s16le", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode():
            c.mux(p)
    with pytest.raises(DataError, match="no video stream.*audio"):
        read_video(path)


# ---------------------------------------------------------------- resizing


def test_resize_frames():
    const = np.full((2, 30, 40, 3), 77, np.uint8)
    out = resize_frames(const, (7, 13))
    assert out.shape == (2, 7, 13, 3) and out.dtype == np.uint8 and (out == 77).all()
    labels = np.random.default_rng(0).integers(0, 5, (1, 20, 20, 1)).astype(np.uint8) * 50
    near = resize_frames(labels, (9, 31), method="nearest")
    assert set(np.unique(near)) <= set(np.unique(labels))
    up = resize_frames(np.float32([[[[0.0], [1.0]]]]), (1, 4), method="linear")
    np.testing.assert_allclose(up[0, 0, :, 0], [0, 0.25, 0.75, 1])
    # Box filter: a 2x reduction averages pixel pairs exactly.
    ramp = np.arange(8, dtype=np.float32).reshape(1, 1, 8, 1)
    np.testing.assert_allclose(resize_frames(ramp, (1, 4))[0, 0, :, 0], [0.5, 2.5, 4.5, 6.5])


# ---------------------------------------------------------------- side by side


def test_side_by_side_shapes_and_broadcast(tmp_path):
    rgb = smooth_video(6, 32, 48)
    grey_float = rgb[..., :1].astype(np.float32) / 255.0
    volume = np.random.default_rng(0).random((6, 16, 16, 1)).astype(np.float32)
    out = side_by_side(rgb, grey_float, volume, gap=2)
    assert out.dtype == np.uint8
    # volume 16x16 scaled to height 32 -> width 32.
    assert out.shape == (6, 32, 48 + 2 + 48 + 2 + 32, 3)
    np.testing.assert_array_equal(out[:, :, :48], rgb)
    np.testing.assert_array_equal(out[:, :, 48:50], 0)
    grey = out[:, :, 50:98]
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()

    labelled = side_by_side(rgb, rgb, labels=["input", "output"])
    assert labelled.shape[1] > 32 and labelled.shape[2] == 98
    assert labelled[:, : labelled.shape[1] - 32].max() == 255  # some text drawn

    with pytest.warns(UserWarning, match="differ in length"):
        held = side_by_side(rgb, rgb[:3])
    np.testing.assert_array_equal(held[3:, :, 50:], np.repeat(rgb[2:3], 3, axis=0))

    path = write_side_by_side(tmp_path / "cmp.mp4", rgb, grey_float, labels=["a", "b"], fps=5)
    assert read_video(path).shape[0] == 6
    with pytest.raises(ValueError, match="labels"):
        side_by_side(rgb, labels=["a", "b"])
    with pytest.raises(DataError, match="videos\\[1\\]"):
        side_by_side(rgb, np.zeros((2, 3, 4, 5, 6)))


# ---------------------------------------------------------------- tensorflow-io probe


def test_tfio_probe_is_a_cached_bool(monkeypatch):
    _tfio.clear_cache()
    first = _tfio.video_ops_available()
    assert isinstance(first, bool)
    assert _tfio.video_ops_available() is first
    assert _tfio.video_ops_available.cache_info().hits >= 1
    assert isinstance(_tfio.dicom_ops_available(), bool)
    monkeypatch.setenv(_tfio.ENV_VAR, "0")
    _tfio.clear_cache()
    assert _tfio.video_ops_available() is False
    assert _tfio.dicom_ops_available() is False
    _tfio.clear_cache()


def test_to_channels_converts_grey_and_rgb_only():
    from keras_v2v.data import to_channels

    rgb = np.zeros((2, 4, 4, 3), np.uint8)
    rgb[..., 0] = 255  # pure red
    grey = to_channels(rgb, 1)
    assert grey.shape == (2, 4, 4, 1) and grey.dtype == np.uint8 and int(grey[0, 0, 0, 0]) == 76  # 0.299 * 255
    np.testing.assert_array_equal(to_channels(grey, 3), np.repeat(grey, 3, axis=-1))
    assert to_channels(rgb, 3) is rgb
    with pytest.raises(ValueError, match="cannot convert 2 channels to 3"):
        to_channels(np.zeros((1, 2, 2, 2), np.uint8), 3)


def test_labels_are_drawn_by_pillow_in_upper_and_lower_case():
    from keras_v2v.data.writers import render_label

    lower, upper = render_label("baseline", 96), render_label("BASELINE", 96)
    assert lower.shape == upper.shape and lower.dtype == np.uint8 and set(np.unique(lower)) == {0, 255}
    assert not np.array_equal(lower, upper)  # the old 3x5 font drew lower case as upper case


def test_png_frames_carry_a_mark_pillow_reads_and_others_do_not(tmp_path):
    from PIL import Image, PngImagePlugin

    from keras_v2v.data import video_write

    ours = tmp_path / "ours"
    write_video(str(ours), smooth_video(2, 8, 8), fps=5)
    assert all(video_write.is_our_frame(str(p)) for p in ours.iterdir())
    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(photo)
    assert not video_write.is_our_frame(str(photo))
    marked = PngImagePlugin.PngInfo()
    marked.add_text("Software", "keras-v2v")  # a mark after other chunks (pHYs) is still ours
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(photo, pnginfo=marked, dpi=(72, 72))
    assert video_write.is_our_frame(str(photo))
    (tmp_path / "notes.txt").write_text("not an image")
    assert not video_write.is_our_frame(str(tmp_path / "notes.txt"))


def test_frames_are_converted_to_grey_as_they_decode(tmp_path):
    from keras_v2v.data import to_channels

    clip = write_video(tmp_path / "c.mp4", smooth_video(8), fps=8)
    rgb = read_video(clip)
    np.testing.assert_array_equal(read_video(clip, channels=1), to_channels(rgb, 1))
    np.testing.assert_array_equal(read_video(clip, 2, 5, channels=1), to_channels(rgb[2:5], 1))
    folder = write_video(tmp_path / "frames", rgb[:3])
    np.testing.assert_array_equal(video_io.read_frames(folder, channels=1), to_channels(rgb[:3], 1))
    with pytest.raises(ValueError, match="`channels` must be 1 .grey. or 3"):
        read_video(clip, channels=2)
