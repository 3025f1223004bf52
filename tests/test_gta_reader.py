"""GTA / VIPER reader on a tiny fixture tree in the real layout."""

import os

import av
import numpy as np
import pytest

from keras_v2v.data.errors import DataError
from keras_v2v.data.gta import (
    PAPER_SEQUENCES,
    VIPER_PALETTE,
    GTAClips,
    colors_to_ids,
)
from keras_v2v.data.sampler import UnpairedVideoDataset
from keras_v2v.data.resize import resize_frames

H, W = 18, 24


def _write_png(path, array, pix_fmt, palette=None):
    """PNG via PyAV: rgb24, gray (class ids) or pal8 (ids + embedded palette)."""
    codec = av.CodecContext.create("png", "w")
    codec.height, codec.width = array.shape[:2]
    codec.pix_fmt = pix_fmt
    if pix_fmt == "pal8":
        argb = np.zeros((256, 4), np.uint8)
        argb[:, 0] = 255
        argb[: len(palette), 1:] = palette
        frame = av.VideoFrame.from_ndarray((array, argb), format="pal8")
    else:
        frame = av.VideoFrame.from_ndarray(array, format=pix_fmt)
    with open(path, "wb") as fh:
        fh.write(b"".join(bytes(p) for p in codec.encode(frame) + codec.encode(None)))


def rgb_frame(seq, n):
    """RGB that encodes (sequence, frame number) so alignment can be checked."""
    image = np.zeros((H, W, 3), np.uint8)
    image[..., 0] = n % 251
    image[..., 1] = int(seq) % 251
    image[..., 2] = np.arange(W)[None, :] * 10  # horizontal ramp
    return image


def class_ids(n):
    ids = np.full((H, W), n % 32, np.uint8)
    ids[:, : W // 2] = 3  # road on the left half
    return ids


def make_viper(root, layout):
    """layout: {seq: (frame numbers, cls kind "pal8"/"gray", missing cls frames, rgb ext)}."""
    for seq, (numbers, kind, missing, ext) in layout.items():
        img_dir = os.path.join(root, "train", "img", seq)
        cls_dir = os.path.join(root, "train", "cls", seq)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(cls_dir, exist_ok=True)
        for n in numbers:
            name = f"{seq}_{n:05d}"
            if ext == "png":
                _write_png(os.path.join(img_dir, name + ".png"), rgb_frame(seq, n), "rgb24")
            else:
                codec = av.CodecContext.create("mjpeg", "w")
                codec.height, codec.width, codec.pix_fmt = H, W, "yuvj444p"
                codec.options = {"qscale": "1"}
                frame = av.VideoFrame.from_ndarray(rgb_frame(seq, n), format="rgb24")
                frame = frame.reformat(format="yuvj444p")
                data = b"".join(bytes(p) for p in codec.encode(frame) + codec.encode(None))
                with open(os.path.join(img_dir, name + ".jpg"), "wb") as fh:
                    fh.write(data)
            if n in missing:
                continue
            if kind == "pal8":
                _write_png(os.path.join(cls_dir, name + ".png"), class_ids(n), "pal8", VIPER_PALETTE)
            else:
                _write_png(os.path.join(cls_dir, name + ".png"), class_ids(n), "gray")
    return str(root)


@pytest.fixture
def viper(tmp_path):
    return make_viper(
        tmp_path / "viper",
        {
            "001": (range(0, 120, 10), "pal8", (), "png"),  # VIPER-style step of 10
            "002": (range(9), "gray", (4,), "png"),  # one class map missing
            "044": (range(5), "gray", (), "jpg"),
            "099": (range(8), "pal8", (), "png"),  # not a paper sequence
        },
    )


def test_paper_sequences_constant():
    assert len(PAPER_SEQUENCES) == 15
    assert PAPER_SEQUENCES[:4] == ("001", "002", "003", "004")
    assert "051" in PAPER_SEQUENCES and "050" not in PAPER_SEQUENCES
    assert PAPER_SEQUENCES[-1] == "069"


def test_clips_are_aligned_and_sized(viper):
    with pytest.warns(UserWarning) as record:
        clips = GTAClips(viper, clip_length=4, size=(9, 12))
    messages = " ".join(str(w.message) for w in record)
    assert "003" in messages  # paper sequences absent from the fixture are reported
    assert "lack an RGB image or a class map" in messages
    assert clips.sequences == ["001", "002", "044"]
    assert clips.missing == {"002": [4]}
    # 001: 12 frames -> 3 clips; 002: runs 0-3 and 5-8 -> 2 clips; 044: 5 frames -> 1 clip.
    assert [(c.sequence, c.frames[0]) for c in clips.clips] == [
        ("001", 0), ("001", 40), ("001", 80), ("002", 0), ("002", 5), ("044", 0)
    ]
    assert clips.clips[0].frames == (0, 10, 20, 30)
    assert len(clips) == 6
    for clip, (seg, rgb) in zip(clips.clips, clips):
        assert seg.shape == rgb.shape == (4, 9, 12, 3)
        assert seg.dtype == rgb.dtype == np.uint8
        for t, n in enumerate(clip.frames):
            # RGB of frame n and class map of frame n come together.
            assert abs(int(rgb[t, 0, 0, 0]) - n % 251) <= 2
            assert abs(int(rgb[t, 0, 0, 1]) - int(clip.sequence)) <= 2
            np.testing.assert_array_equal(seg[t, :, -1], np.broadcast_to(VIPER_PALETTE[n % 32], (9, 3)))
            np.testing.assert_array_equal(seg[t, :, 0], np.broadcast_to(VIPER_PALETTE[3], (9, 3)))
    # Class maps are resized with nearest neighbour: no blended colours.
    seg, rgb = clips[0]
    assert {tuple(c) for c in seg.reshape(-1, 3)} <= {tuple(c) for c in VIPER_PALETTE}
    expected = resize_frames(np.stack([rgb_frame("001", n) for n in (0, 10, 20, 30)]), (9, 12))
    np.testing.assert_array_equal(rgb, expected)


def test_all_sequences_native_size_and_custom_palette(viper):
    with open(os.path.join(viper, "classes.csv"), "w") as fh:
        fh.write("id,classname,red,green,blue\n0,unlabeled,0,0,0\n3,road,1,2,3\n")
        fh.write("".join(f"{k},c{k},{k},{k},{k}\n" for k in range(4, 32)))
    with pytest.warns(UserWarning, match="lack"):
        clips = GTAClips(viper, sequences=None, clip_length=8, size=None)
    assert [c.sequence for c in clips.clips] == ["001", "099"]
    seg, rgb = clips[1]
    assert seg.shape == rgb.shape == (8, H, W, 3)
    np.testing.assert_array_equal(rgb[2], rgb_frame("099", 2))
    # 099 has palette PNGs: their embedded colours win over classes.csv.
    np.testing.assert_array_equal(seg[0, 0, 0], VIPER_PALETTE[3])
    only_grey = GTAClips(viper, sequences=["044"], clip_length=5, size=None)
    np.testing.assert_array_equal(only_grey[0][0][0, 0, 0], [1, 2, 3])  # from classes.csv


def test_split_folder_given_directly_and_sources(viper):
    clips = GTAClips(os.path.join(viper, "train"), sequences=["001"], clip_length=6, size=(8, 8))
    assert len(clips) == 2
    seg_src, rgb_src = clips.source("seg"), clips.source("rgb")
    assert len(seg_src) == 2 and seg_src.num_frames(1) == 6
    np.testing.assert_array_equal(rgb_src.read(1, 2, 5), clips[1][1][2:5])
    ds = UnpairedVideoDataset(seg_src, rgb_src, mode="clips", batch_size=2, clip_length=3,
                              steps_per_epoch=2, flip=False)
    a, b = ds[0]
    assert a.shape == b.shape == (2, 3, 8, 8, 3)
    assert a.min() >= -1 and a.max() <= 1


def test_errors(tmp_path, viper):
    with pytest.raises(DataError, match="does not exist"):
        GTAClips(tmp_path / "nowhere")
    with pytest.raises(DataError, match="'val/' folder"):
        GTAClips(viper, split="val")
    with pytest.raises(DataError, match="none of the requested sequences"):
        GTAClips(viper, sequences=["123"])
    with pytest.raises(DataError, match="no run of 50 consecutive frames"):
        GTAClips(viper, sequences=["001"], clip_length=50)
    os.makedirs(tmp_path / "half" / "train" / "img")
    with pytest.raises(DataError, match="'cls/' folder"):
        GTAClips(tmp_path / "half")
    clips = GTAClips(viper, sequences=["044"], clip_length=5)
    with pytest.raises(IndexError):
        clips[1]
    bad = os.path.join(viper, "train", "img", "044", "044_00002.jpg")
    with open(bad, "wb") as fh:
        fh.write(b"garbage")
    with pytest.raises(DataError, match="044_00002.jpg"):
        clips[0]


def test_colors_to_ids_round_trip():
    ids = np.arange(32, dtype=np.uint8).reshape(4, 8)
    back = colors_to_ids(VIPER_PALETTE[ids])
    # van (25) and train (29) share a colour in VIPER: the first id wins.
    expected = np.where(ids == 29, 25, ids)
    np.testing.assert_array_equal(back, expected)
