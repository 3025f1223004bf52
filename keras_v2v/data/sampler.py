"""Unpaired batch sampler for ``model.fit``: the three batch layouts of the paper (Fig. 4).

- ``"random"``: ``batch_size`` single frames drawn uniformly from all frames
  of all videos -> (N, H, W, C). The usual shuffled 2D CycleGAN batch.
- ``"sequential"``: ``batch_size`` consecutive frames of ONE video, in time
  order -> (N, H, W, C). The order matters: the temporal "const" penalty
  sum_t ||G(x)_t - G(x)_{t-1}||^2 compares neighbouring batch entries.
- ``"clips"``: ``batch_size`` clips of ``clip_length`` consecutive frames,
  each from a random video -> (N, clip_length, H, W, C), for 3D models.

Domains A and B are drawn independently (unpaired). Each item is a tuple
``(a_batch, b_batch)`` of float32 in [-1, 1]. Item ``i`` of epoch ``e`` is a
pure function of ``(seed, e, i)``, so threads or processes loading in any
order produce the same batches.
"""

import math
import warnings

import keras
import numpy as np

from keras_v2v.utils.flow import flow_pairs
from keras_v2v.data.sources import as_source
from keras_v2v.data.resize import resize_frames

MODES = ("random", "sequential", "clips")


def _pair(value, name):
    if value is None:
        return None
    if isinstance(value, (int, np.integer)):
        value = (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2 or min(value) < 1:
        raise ValueError(
            f"UnpairedVideoDataset: `{name}` must be (height, width) of positive ints, "
            f"got {value!r}"
        )
    return value


class _Domain:
    """One side (A or B): a source plus what is needed to draw windows from it."""

    def __init__(self, source, name, window, crop_size, resize):
        self.source = as_source(source)
        self.name = name
        self.window = window
        counts = np.array(
            [self.source.num_frames(i) for i in range(len(self.source))], np.int64
        )
        if counts.size == 0:
            raise ValueError(f"UnpairedVideoDataset: {name} holds no videos")
        self.total_frames = int(counts.sum())
        starts = np.maximum(counts - window + 1, 0)
        if starts.sum() == 0:
            raise ValueError(
                f"UnpairedVideoDataset: every video of {name} is shorter than the "
                f"{window} consecutive frames one draw needs (longest has "
                f"{counts.max()} frames); lower clip_length/batch_size"
            )
        if (starts == 0).any():
            warnings.warn(
                f"{name}: {(starts == 0).sum()} of {len(counts)} videos are shorter "
                f"than {window} frames and are never drawn",
                stacklevel=3,
            )
        self._cum = np.cumsum(starts)

        # Probe one frame: its size bounds the crop, its values check the range.
        probe = np.asarray(self.source.read(int(np.argmax(starts > 0)), 0, 1))
        if probe.ndim != 4 or probe.shape[-1] not in (1, 3):
            raise ValueError(
                f"UnpairedVideoDataset: {name}.read() must return (T, H, W, C) with "
                f"C 1 or 3, got shape {probe.shape}"
            )
        self.value_range = getattr(self.source, "value_range", None) or (
            (0.0, 255.0) if probe.dtype == np.uint8 else (0.0, 1.0)
        )
        lo, hi = self.value_range
        if probe.dtype != np.uint8 and (probe.min() < lo - 1e-3 or probe.max() > hi + 1e-3):
            raise ValueError(
                f"UnpairedVideoDataset: {name} holds float values in "
                f"[{probe.min():.3g}, {probe.max():.3g}], outside the assumed range "
                f"({lo}, {hi}); wrap it as ArraySource(x, value_range=(min, max))"
            )
        size = resize or probe.shape[1:3]
        if crop_size and (crop_size[0] > size[0] or crop_size[1] > size[1]):
            raise ValueError(
                f"UnpairedVideoDataset: crop_size {crop_size} is bigger than the "
                f"{'resized ' if resize else ''}frames of {name} ({size[0]}x{size[1]})"
            )

    def draw(self, rng, count):
        """``count`` (video, start) windows, uniform over all valid windows."""
        total = int(self._cum[-1])
        picks = rng.choice(total, size=count, replace=total < count)
        videos = np.searchsorted(self._cum, picks, side="right")
        starts = picks - np.concatenate([[0], self._cum])[videos]
        return list(zip(videos.tolist(), starts.tolist()))


class UnpairedVideoDataset(keras.utils.PyDataset):
    """Unpaired (A, B) batches from two video sources, for ``model.fit``.

    Args:
        source_a, source_b: sources (``ArraySource``, ``VideoFileSource``,
            ``FrameFolderSource``, anything with len/num_frames/read), numpy
            arrays (N, T, H, W, C), or paths.
        mode: "random", "sequential" or "clips" (see module doc).
        batch_size: frames per batch ("random", "sequential") or clips per
            batch ("clips").
        clip_length: frames per clip in "clips" mode.
        crop_size: (height, width) random crop, the same for every frame of a
            sequence or clip; None keeps the full frame.
        resize: (height, width) applied before cropping (box filter when
            shrinking); None keeps the native size. Videos of different sizes
            need ``resize`` or ``crop_size`` to stack into one batch.
        flip: random horizontal flip with probability 1/2, one decision per
            sequence or clip (per frame in "random").
        steps_per_epoch: batches per epoch; None means enough batches to see
            the larger domain's frame count once.
        flows: "clips" mode only; each item is then a dict with "a", "b" and
            the optical flow of every clip with its visibility masks ("flow_a",
            "mask_a", "flow_b", "mask_b": (N, L-1, H, W, 2) and (N, L-1, H, W, 1)),
            for the warping loss (`CycleGAN.compile(lambda_warp=...)`).
        seed: base seed; item ``i`` of epoch ``e`` uses
            ``np.random.default_rng((seed, e, i, side))``.
        workers, use_multiprocessing, max_queue_size: see ``keras.utils.PyDataset``.

    Values: uint8 sources map [0, 255] -> [-1, 1], float sources [0, 1] ->
    [-1, 1] (or their ``value_range``).
    """

    def __init__(
        self,
        source_a,
        source_b,
        mode="random",
        batch_size=1,
        clip_length=8,
        crop_size=None,
        resize=None,
        flip=True,
        steps_per_epoch=None,
        seed=0,
        flows=False,
        workers=1,
        use_multiprocessing=False,
        max_queue_size=10,
    ):
        super().__init__(
            workers=workers,
            use_multiprocessing=use_multiprocessing,
            max_queue_size=max_queue_size,
        )
        if mode not in MODES:
            raise ValueError(
                f"UnpairedVideoDataset: unknown mode {mode!r}; valid modes: "
                f"{', '.join(repr(m) for m in MODES)}"
            )
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(
                f"UnpairedVideoDataset: `batch_size` must be a positive int, got {batch_size!r}"
            )
        if not isinstance(clip_length, (int, np.integer)) or clip_length < 1:
            raise ValueError(
                f"UnpairedVideoDataset: `clip_length` must be a positive int, got {clip_length!r}"
            )
        self.mode = mode
        self.batch_size = int(batch_size)
        self.clip_length = int(clip_length)
        self.crop_size = _pair(crop_size, "crop_size")
        self.resize = _pair(resize, "resize")
        self.flip = bool(flip)
        self.seed = int(seed)
        self.flows = bool(flows)
        if self.flows and mode != "clips":
            raise ValueError(f"UnpairedVideoDataset: flows=True needs mode='clips', got mode={mode!r}")
        self.epoch = 0

        window = {"random": 1, "sequential": self.batch_size, "clips": self.clip_length}[mode]
        self._a = _Domain(source_a, "source_a", window, self.crop_size, self.resize)
        self._b = _Domain(source_b, "source_b", window, self.crop_size, self.resize)

        if steps_per_epoch is None:
            per_batch = self.batch_size * (self.clip_length if mode == "clips" else 1)
            frames = max(self._a.total_frames, self._b.total_frames)
            steps_per_epoch = max(1, math.ceil(frames / per_batch))
        if not isinstance(steps_per_epoch, (int, np.integer)) or steps_per_epoch < 1:
            raise ValueError(
                "UnpairedVideoDataset: `steps_per_epoch` must be a positive int, "
                f"got {steps_per_epoch!r}"
            )
        self.steps_per_epoch = int(steps_per_epoch)

    @property
    def source_a(self):
        return self._a.source

    @property
    def source_b(self):
        return self._b.source

    def __len__(self):
        return self.steps_per_epoch

    def on_epoch_end(self):
        # The next epoch draws fresh batches; (seed, epoch, i) stays reproducible.
        # Keras also calls this once before training starts, so fit's first
        # epoch uses epoch 1; it does so the same way every run.
        self.epoch += 1

    def __getitem__(self, index):
        if not 0 <= index < self.steps_per_epoch:
            raise IndexError(
                f"UnpairedVideoDataset: index {index} out of range [0, {self.steps_per_epoch})"
            )
        a = self._batch(self._a, np.random.default_rng((self.seed, self.epoch, index, 0)))
        b = self._batch(self._b, np.random.default_rng((self.seed, self.epoch, index, 1)))
        if not self.flows:
            return a, b
        item = {"a": a, "b": b}
        for side, clips in (("a", a), ("b", b)):
            # Flow of what the model sees (after resize, crop and flip), on [0, 1] frames.
            pairs = [flow_pairs((clip + 1.0) * 0.5) for clip in clips]
            item[f"flow_{side}"] = np.stack([f for f, _ in pairs])
            item[f"mask_{side}"] = np.stack([m for _, m in pairs])[..., None].astype(np.float32)
        return item

    def _window(self, domain, rng, video, start):
        """Read ``domain.window`` frames and apply resize, crop, flip, scaling."""
        frames = np.asarray(domain.source.read(video, start, start + domain.window))
        if self.resize is not None:
            frames = resize_frames(frames, self.resize)
        if self.crop_size is not None:
            (ch, cw), (h, w) = self.crop_size, frames.shape[1:3]
            if ch > h or cw > w:
                raise ValueError(
                    f"UnpairedVideoDataset: crop_size {self.crop_size} is bigger than "
                    f"video {video} of {domain.name} ({h}x{w}); pass resize="
                )
            top = int(rng.integers(0, h - ch + 1))
            left = int(rng.integers(0, w - cw + 1))
            frames = frames[:, top : top + ch, left : left + cw]
        if self.flip and rng.random() < 0.5:
            frames = frames[:, :, ::-1]
        lo, hi = domain.value_range
        frames = (frames.astype(np.float32) - lo) * (2.0 / (hi - lo)) - 1.0
        return np.clip(frames, -1.0, 1.0)

    def _batch(self, domain, rng):
        count = 1 if self.mode == "sequential" else self.batch_size
        windows = [self._window(domain, rng, v, s) for v, s in domain.draw(rng, count)]
        shapes = {w.shape for w in windows}
        if len(shapes) > 1:
            raise ValueError(
                f"UnpairedVideoDataset: videos of {domain.name} differ in size "
                f"({sorted(s[1:3] for s in shapes)}); pass resize= or crop_size="
            )
        if self.mode == "clips":
            return np.stack(windows)  # (N, L, H, W, C)
        if self.mode == "sequential":
            return windows[0]  # (N, H, W, C), consecutive frames in time order
        return np.concatenate(windows)  # (N, H, W, C), one frame per draw
