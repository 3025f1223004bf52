"""GTA / VIPER ("Playing for Benchmarks", Richter et al. 2017) segmentation <-> RGB clips.

Expected layout (the VIPER download, one folder per split)::

    root/
      train/
        img/<seq>/<seq>_<frame>.jpg|png     RGB frames (1920x1080)
        cls/<seq>/<seq>_<frame>.png         class maps, e.g. 001/001_00010.png
      val/ ...
      classes.csv                            optional: id,classname,red,green,blue,...

Class maps are 8-bit single-channel PNGs of class ids; with an embedded
palette they decode straight to colours, plain grey ids are coloured with
``classes.csv`` (if found in ``root`` or the split folder) or the built-in
``VIPER_PALETTE``. Either way ``GTAClips`` yields the coloured segmentation,
the form the paper translates from.

The paper (Sec. 5.1) used the daylight driving and walking sequences
001-004, 044-049, 051 and 066-069 (``PAPER_SEQUENCES``), cut into clips of 30
frames at 108x192.

Missing frames: a frame number with an RGB image but no class map (or the
reverse), or a hole in the numbering, ends a contiguous run; clips never span
one. ``GTAClips.missing`` lists them per sequence and a warning sums them up.
"""

import csv
import dataclasses
import os
import re
import warnings

import numpy as np

from keras_v2v.data import video_io
from keras_v2v.data.errors import DataError
from keras_v2v.data.resize import resize_frames

# Sec. 5.1, footnote 1: "sections 001-004, 044-049, 051, 066-069".
PAPER_SEQUENCES = (
    ("001", "002", "003", "004")
    + tuple(f"{k:03d}" for k in range(44, 50))
    + ("051",)
    + tuple(f"{k:03d}" for k in range(66, 70))
)

# VIPER classes.csv: (id, name, (r, g, b)).
VIPER_CLASSES = (
    (0, "unlabeled", (0, 0, 0)), (1, "ambiguous", (111, 74, 0)),
    (2, "sky", (70, 130, 180)), (3, "road", (128, 64, 128)),
    (4, "sidewalk", (244, 35, 232)), (5, "railtrack", (230, 150, 140)),
    (6, "terrain", (152, 251, 152)), (7, "tree", (87, 182, 35)),
    (8, "vegetation", (35, 142, 35)), (9, "building", (70, 70, 70)),
    (10, "infrastructure", (153, 153, 153)), (11, "fence", (190, 153, 153)),
    (12, "billboard", (150, 20, 20)), (13, "trafficlight", (250, 170, 30)),
    (14, "trafficsign", (220, 220, 0)), (15, "mobilebarrier", (180, 180, 100)),
    (16, "firehydrant", (173, 153, 153)), (17, "chair", (168, 153, 153)),
    (18, "trash", (81, 0, 21)), (19, "trashcan", (81, 0, 81)),
    (20, "person", (220, 20, 60)), (21, "animal", (255, 0, 0)),
    (22, "bicycle", (119, 11, 32)), (23, "motorcycle", (0, 0, 230)),
    (24, "car", (0, 0, 142)), (25, "van", (0, 80, 100)),
    (26, "bus", (0, 60, 100)), (27, "truck", (0, 0, 70)),
    (28, "trailer", (0, 0, 90)), (29, "train", (0, 80, 100)),
    (30, "plane", (0, 100, 100)), (31, "boat", (50, 0, 90)),
)
VIPER_PALETTE = np.array([rgb for _, _, rgb in VIPER_CLASSES], np.uint8)

_FRAME_RE = re.compile(r"^(?P<seq>.+)_(?P<frame>\d+)\.(?P<ext>jpg|jpeg|png)$", re.IGNORECASE)


def load_palette(path):
    """Read a VIPER ``classes.csv`` (id,classname,red,green,blue,...) -> (256, 3) uint8."""
    palette = np.zeros((256, 3), np.uint8)
    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
        for row in rows:
            if not row or not row[0].strip().isdigit():
                continue  # header or blank line
            palette[int(row[0])] = [int(v) for v in row[2:5]]
    except (OSError, ValueError, IndexError) as e:
        raise DataError(path, f"expected rows 'id,classname,red,green,blue', cannot parse ({e})") from e
    return palette


def colors_to_ids(seg, palette=VIPER_PALETTE):
    """Map coloured segmentation (..., 3) uint8 to class ids by nearest palette colour."""
    seg = np.asarray(seg, np.int32)
    pal = np.asarray(palette, np.int32)
    dist = ((seg[..., None, :] - pal) ** 2).sum(-1)
    return np.argmin(dist, axis=-1).astype(np.uint8)


@dataclasses.dataclass(frozen=True)
class GTAClip:
    """One clip: its sequence id and the frame numbers it covers."""

    sequence: str
    frames: tuple


def _index_folder(folder):
    """{frame number: path} of ``<seq>_<frame>.<ext>`` files in ``folder``."""
    out = {}
    for name in os.listdir(folder):
        m = _FRAME_RE.match(name)
        if m:
            number = int(m.group("frame"))
            # Prefer lossless PNG when both JPG and PNG exist.
            if number not in out or name.lower().endswith(".png"):
                out[number] = os.path.join(folder, name)
    return out


def _runs(numbers, step):
    """Split sorted frame numbers into runs spaced exactly ``step`` apart."""
    runs, current = [], []
    for n in numbers:
        if current and n - current[-1] != step:
            runs.append(current)
            current = []
        current.append(n)
    if current:
        runs.append(current)
    return runs


class GTAClips:
    """Aligned (segmentation, RGB) clips from a VIPER-layout folder.

    Args:
        root: dataset root (holding ``train/``, ``val/``, ...) or a split folder
            (holding ``img/`` and ``cls/``).
        split: "train", "val" or "test".
        sequences: sequence ids to use; None for every sequence found.
            Defaults to the paper's ``PAPER_SEQUENCES``.
        clip_length: frames per clip (30 in the paper).
        size: (height, width) of the output frames (108x192 in the paper); None
            keeps the native size. RGB is box-filtered, class maps use nearest
            neighbour so no new colours appear.
        stride: frames between clip starts; None = ``clip_length`` (no overlap).
        frame_step: spacing of frame numbers within a run; None infers it per
            sequence (most common gap).

    ``clips[i]`` describes clip ``i``; ``self[i]`` returns
    ``(seg_rgb, rgb)``, both uint8 (clip_length, H, W, 3).
    """

    def __init__(
        self,
        root,
        split="train",
        sequences=PAPER_SEQUENCES,
        clip_length=30,
        size=(108, 192),
        stride=None,
        frame_step=None,
    ):
        root = os.fspath(root)
        if not os.path.isdir(root):
            raise DataError(root, "GTA/VIPER root folder does not exist")
        base = os.path.join(root, split)
        if not os.path.isdir(base):
            if os.path.isdir(os.path.join(root, "img")):
                base = root  # given the split folder itself
            else:
                found = sorted(n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n)))
                raise DataError(
                    root,
                    f"expected a '{split}/' folder with img/ and cls/ inside, "
                    f"found folders: {', '.join(found) or 'none'}",
                )
        for sub in ("img", "cls"):
            if not os.path.isdir(os.path.join(base, sub)):
                raise DataError(base, f"expected an '{sub}/' folder (VIPER layout), found none")
        if clip_length < 1:
            raise ValueError(f"GTAClips: `clip_length` must be >= 1, got {clip_length}")
        self.root, self.split, self.base = root, split, base
        self.clip_length = int(clip_length)
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.stride = int(stride or clip_length)
        self.palette = self._find_palette()

        available = sorted(
            n for n in os.listdir(os.path.join(base, "img"))
            if os.path.isdir(os.path.join(base, "img", n))
        )
        if sequences is None:
            wanted = available
        else:
            wanted = [str(s) for s in sequences]
            absent = [s for s in wanted if s not in available]
            wanted = [s for s in wanted if s in available]
            if not wanted:
                raise DataError(
                    base,
                    f"none of the requested sequences ({', '.join(map(str, sequences))}) "
                    f"exist; found: {', '.join(available) or 'none'}",
                )
            if absent:
                warnings.warn(
                    f"{base}: sequences not found, skipped: {', '.join(absent)}",
                    stacklevel=2,
                )
        self.sequences = wanted

        self._img, self._cls, self.missing, self.clips = {}, {}, {}, []
        unmatched = 0
        for seq in wanted:
            img = _index_folder(os.path.join(base, "img", seq))
            cls_dir = os.path.join(base, "cls", seq)
            cls = _index_folder(cls_dir) if os.path.isdir(cls_dir) else {}
            self._img[seq], self._cls[seq] = img, cls
            both = sorted(set(img) & set(cls))
            lonely = sorted(set(img) ^ set(cls))
            unmatched += len(lonely)
            step = frame_step or self._infer_step(sorted(set(img) | set(cls)))
            # Holes inside the numbering count as missing too.
            present = set(img) | set(cls)
            holes = []
            if present:
                holes = [n for n in range(min(present), max(present) + 1, step) if n not in present]
            if lonely or holes:
                self.missing[seq] = sorted(lonely + holes)
            for run in _runs(both, step):
                for s in range(0, len(run) - self.clip_length + 1, self.stride):
                    self.clips.append(GTAClip(seq, tuple(run[s : s + self.clip_length])))
        if self.missing:
            total = sum(len(v) for v in self.missing.values())
            examples = "; ".join(
                f"{seq}: {', '.join(map(str, v[:3]))}{'...' if len(v) > 3 else ''}"
                for seq, v in list(self.missing.items())[:3]
            )
            warnings.warn(
                f"{base}: {total} frame numbers lack an RGB image or a class map "
                f"({unmatched} present in only one of img/cls) ({examples}); "
                "clips never span them, see GTAClips.missing",
                stacklevel=2,
            )
        if not self.clips:
            raise DataError(
                base,
                f"no run of {self.clip_length} consecutive frames with both img and cls "
                f"in sequences {', '.join(wanted)}",
            )

    @staticmethod
    def _infer_step(numbers):
        if len(numbers) < 2:
            return 1
        gaps, counts = np.unique(np.diff(numbers), return_counts=True)
        return int(gaps[np.argmax(counts)])

    def _find_palette(self):
        for folder in (self.base, self.root):
            path = os.path.join(folder, "classes.csv")
            if os.path.isfile(path):
                return load_palette(path)
        palette = np.zeros((256, 3), np.uint8)
        palette[: len(VIPER_PALETTE)] = VIPER_PALETTE
        return palette

    def __len__(self):
        return len(self.clips)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, i):
        if not -len(self) <= i < len(self):
            raise IndexError(f"GTAClips: clip {i} out of range [0, {len(self)})")
        clip = self.clips[i]
        return self.read_seg(clip), self.read_rgb(clip)

    def read_rgb(self, clip, start=0, stop=None):
        """RGB frames ``[start, stop)`` of ``clip`` -> uint8 (T, H, W, 3)."""
        frames = [video_io.read_image(self._img[clip.sequence][n]) for n in clip.frames[start:stop]]
        frames = self._stack(frames, clip)
        return frames if self.size is None else resize_frames(frames, self.size, "area")

    def read_seg(self, clip, start=0, stop=None):
        """Coloured class maps ``[start, stop)`` of ``clip`` -> uint8 (T, H, W, 3)."""
        frames = [self._read_class_map(self._cls[clip.sequence][n]) for n in clip.frames[start:stop]]
        frames = self._stack(frames, clip)
        return frames if self.size is None else resize_frames(frames, self.size, "nearest")

    def _read_class_map(self, path):
        image = video_io._read_image(path, mode="label")
        if image.ndim == 2:
            return self.palette[image]  # grey class ids
        return image

    def _stack(self, frames, clip):
        shape = frames[0].shape
        for n, f in zip(clip.frames, frames):
            if f.shape != shape:
                raise DataError(
                    os.path.join(self.base, "*", clip.sequence),
                    f"frame {n} is {f.shape[1]}x{f.shape[0]}, frame {clip.frames[0]} "
                    f"is {shape[1]}x{shape[0]}",
                )
        return np.stack(frames)

    def source(self, kind):
        """A sampler source over the clips: ``kind`` "seg" or "rgb"; each clip is one video."""
        if kind not in ("seg", "rgb"):
            raise ValueError(f"GTAClips.source: `kind` must be 'seg' or 'rgb', got {kind!r}")
        return _GTAClipSource(self, kind)

    def __repr__(self):
        return (
            f"GTAClips({self.base!r}, {len(self.sequences)} sequences, {len(self)} clips "
            f"of {self.clip_length} frames)"
        )


class _GTAClipSource:
    """``VideoSource`` view of one modality of ``GTAClips``."""

    def __init__(self, clips, kind):
        self.clips, self.kind = clips, kind

    def __len__(self):
        return len(self.clips)

    def num_frames(self, i):
        return self.clips.clip_length

    def read(self, i, start, stop):
        clip = self.clips.clips[i]
        if self.kind == "seg":
            return self.clips.read_seg(clip, start, stop)
        return self.clips.read_rgb(clip, start, stop)
