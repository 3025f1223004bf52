"""Writes the sample clips in this folder: one held-out clip per bundled task.

Each clip is item 0 of the held-out split of the task's recipe (zoo/<preset>/recipe.toml),
so no preset was trained on it.  Rerun:  python examples/media/make_media.py [--out DIR]
(a test rewrites them into a temporary folder and compares them with the committed ones).
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)

from keras_v2v import data  # noqa: E402
from keras_v2v.training import pipeline, recipes  # noqa: E402

CLIPS = {
    # file: (recipe whose held-out split it comes from, domain, fps)
    "vmnist_spherical.mp4": ("vmnist-sph2sand-3d", "a", 8),
    "moving_digits.mp4": ("mnist-colorize-3d", "a", 8),
    "street_seg.mp4": ("street-seg2rgb-3d", "a", 8),
    "street_rgb.mp4": ("street-seg2rgb-3d", "b", 8),
    "head_mr.mp4": ("phantom-mr2ct-3d", "a", 8),
    "head_mr.nii.gz": ("phantom-mr2ct-3d", "a", None),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=HERE, help="folder to write the clips to (default: this folder)")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    cache = {}
    for name, (preset, domain, fps) in CLIPS.items():
        if preset not in cache:
            recipe = recipes.load_recipe(os.path.join(ROOT, "zoo", preset, "recipe.toml"))
            cache[preset] = pipeline.load_data(recipe).test
        clip = getattr(cache[preset], domain)[0]
        path = os.path.join(args.out, name)
        if name.endswith(".nii.gz"):
            data.write_nifti(path, clip)
        else:
            # Lossless (crf 0): lossy H.264 of the same frames differs from run to run here (PyAV 18,
            # libx264), and the clips must be what a rerun writes.
            data.write_video(path, clip, fps=fps, crf=0)
        print(f"wrote {path} {clip.shape} ({os.path.getsize(path):,} bytes)")


if __name__ == "__main__":
    main()
