"""What each preset was trained on, in one sentence, and a cheap check that an upload looks like it.

Every bundled preset learned from keras-v2v's own synthetic data, so real
footage is far from what it saw (mnist-colorize turns it near-black,
street seg->rgb into a magenta/green texture). The demo says so on its first
screen and warns, without refusing, when an upload's colours are far from the
preset's: the distance between coarse colour histograms (4 levels per channel,
64 bins; total variation, 0 = the same colours, 1 = none in common) of the
upload and of the preset's sample clip, a held-out clip of its training data.
Measured on the bundled clips: clips of the same task are 0.00-0.42 apart
(a hand-drawn digit or street map included), other tasks and camera-like
footage 0.56-0.99.
"""

import functools

import numpy as np

BINS = 4
UNLIKE = 0.5  # histogram distance above which an upload is called unlike the training data

# task -> what its presets were trained on (one sentence; domain A first, as the presets translate).
TRAINED_ON = {
    "vmnist-sph2sand": "synthetic Volumetric MNIST: one white MNIST digit on black, eroded over depth "
                       "('spherical' to 'sandglass'), grey 64x64 slices shown as video frames",
    "mnist-colorize": "synthetic moving MNIST: white digits moving on black, coloured in one of 20 colours "
                      "on the other side",
    "street-seg2rgb": "synthetic street scenes drawn by keras-v2v: flat-colour segmentation maps and the "
                      "simple rendered frames they label, 64x112, not camera footage",
    "gta-seg2rgb": "VIPER / Playing for Benchmarks game frames and their segmentation maps",
    "phantom-mr2ct": "synthetic head phantoms: grey MR-like slices and CT-like slices, 64x64, not real scans",
}


SYNTHETIC = ("vmnist-sph2sand", "mnist-colorize", "street-seg2rgb", "phantom-mr2ct")


def first_screen(presets):
    """The demo's first-screen text: one sentence per preset, and that synthetic data is all they saw."""
    presets = list(presets)
    intro = "**What the presets were trained on.**"
    if presets and all(p.task in SYNTHETIC for p in presets):
        intro += (" Every preset here learned from synthetic data that keras-v2v generates, at small sizes; "
                  "real camera footage is not what they saw.")
    intro += " The page warns when an upload looks unlike a preset's training data (it still translates it)."
    return intro + "\n\n" + "\n".join(f"- {trained_on(p)}" for p in presets)


def trained_on(preset):
    """One sentence: what `preset` (a demo Preset) was trained on and what input it expects."""
    a, b = (list(preset.domains) + ["A", "B"])[:2]
    what = TRAINED_ON.get(preset.task)
    if what is None:
        return f"`{preset.name}`: trained on {a} and {b} clips; give it clips like its {a} data."
    return f"`{preset.name}`: trained on {what}; give it {a} clips like those."


def colour_histogram(video, bins=BINS):
    """Normalised joint RGB histogram (bins**3) of uint8 frames (..., 1 or 3); grey counts as R = G = B."""
    video = np.asarray(video)
    if video.shape[-1] == 1:
        video = np.repeat(video, 3, axis=-1)
    step = max(1, video[..., 0].size // 200_000)  # a subsample is enough for 64 bins
    levels = video.reshape(-1, 3)[::step].astype(np.int32) * bins // 256
    index = (levels[:, 0] * bins + levels[:, 1]) * bins + levels[:, 2]
    counts = np.bincount(index, minlength=bins**3).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def histogram_distance(first, second):
    """Total variation between two normalised histograms: 0 (same) to 1 (disjoint)."""
    return float(0.5 * np.abs(np.asarray(first) - np.asarray(second)).sum())


@functools.lru_cache(maxsize=32)
def reference_histogram(path):
    """The colour histogram of a preset's sample clip (read once per process)."""
    from keras_v2v import data

    return colour_histogram(data.read_video(path, max_frames=32))


def unlike_notice(preset, frames, direction="a2b"):
    """A notice when `frames` look unlike the preset's training data, else None.

    Only where the preset has a sample of the side being translated: its sample
    clip is domain A, so b2a uploads are not checked.
    """
    if direction != "a2b" or not preset.sample_clip:
        return None
    try:
        reference = reference_histogram(preset.sample_clip)
    except Exception:  # a missing or unreadable sample must not stop a translation
        return None
    distance = histogram_distance(colour_histogram(frames), reference)
    if distance <= UNLIKE:
        return None
    return (f"This clip looks unlike what {preset.name} was trained on: its colours are {distance:.2f} "
            f"apart from the training data's (0 = the same colours, 1 = none in common; clips like the "
            f"training data are at most {UNLIKE}). It was translated anyway, but expect a result unlike the "
            f"examples: {trained_on(preset)}")
