"""Fine-tune a preset on your own unpaired videos, save it, reload it.

    python examples/finetune.py --preset vmnist-sph2sand-3d \\
        --videos-a my_domain_a/ --videos-b my_domain_b/ --steps 500 --out my-preset/

--preset is a bundled name (``keras-v2v list``) or a preset folder written by
``save_pretrained``. The two folders hold video files (mp4, mov, webm, gif,
...) of each domain; they need not correspond to each other. Frames are
resized to the preset's training size (``--resize`` picks another size to
crop from) and converted to the preset's channel counts (grey presets get
grey frames). 3D presets train on clips of their training depth, 2D presets
on frames drawn at random, as the paper's methods do.

The result is a preset folder: ``keras_v2v.from_pretrained("my-preset/")``,
``keras-v2v translate in.mp4 out.mp4 --model my-preset/`` and
``keras-v2v demo`` all load it.
"""

import argparse
import os
import sys

# TensorFlow's graph optimizer logs a harmless "remapper failed" error while it compiles the train
# step; level 3 keeps TensorFlow's C++ errors and warnings off stderr (set it to 0 to see them).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_v2v as v2v  # noqa: E402
from keras_v2v import data  # noqa: E402
from keras_v2v.data.resize import resize_frames  # noqa: E402


class ChannelAdapter:
    """A video source whose frames are converted to ``channels`` (1 = grey, 3 = RGB)."""

    def __init__(self, source, channels):
        self.source, self.channels = source, channels

    def __len__(self):
        return len(self.source)

    def num_frames(self, i):
        return self.source.num_frames(i)

    def read(self, i, start, stop):
        return data.to_channels(self.source.read(i, start, stop), self.channels)


def load_for_training(preset):
    """The preset with its discriminators (needed to train)."""
    return v2v.from_pretrained(preset, discriminators=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", required=True, help="bundled preset name or preset folder")
    parser.add_argument("--videos-a", required=True, help="folder (or file) of domain A videos")
    parser.add_argument("--videos-b", required=True, help="folder (or file) of domain B videos")
    parser.add_argument("--steps", type=int, default=200, help="training steps (batches)")
    parser.add_argument("--out", required=True, help="folder to write the fine-tuned preset to")
    parser.add_argument("--batch-size", type=int, default=1, help="clips (3D) or frames (2D) per batch")
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument(
        "--resize", type=int, nargs=2, metavar=("HEIGHT", "WIDTH"),
        help="resize frames to this size, then crop the preset's size at random "
        "(default: resize straight to the preset's size)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--run-eagerly", action="store_true",
        help="train without compiling a graph (debugging; also quicker for a handful of steps)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)

    model = load_for_training(args.preset)
    shape = model.sample_shape
    height, width = shape[-3:-1]
    depth = shape[0] if model.rank == 3 else 1
    print(f"{args.preset}: {model.rank}D, sample shape {shape}, domains {model.domains}")

    # Files are read lazily; clips shorter than one window are skipped with a warning.
    source_a = ChannelAdapter(data.VideoFileSource(args.videos_a, min_frames=depth), model.channels_a)
    source_b = ChannelAdapter(data.VideoFileSource(args.videos_b, min_frames=depth), model.channels_b)
    print(f"domain A: {len(source_a)} videos in {args.videos_a}; domain B: {len(source_b)} videos in {args.videos_b}")

    batches = data.UnpairedVideoDataset(
        source_a,
        source_b,
        mode="clips" if model.rank == 3 else "random",
        batch_size=args.batch_size,
        clip_length=depth,
        resize=tuple(args.resize) if args.resize else (height, width),
        crop_size=(height, width),
        steps_per_epoch=args.steps,
        seed=args.seed,
    )
    model.compile(
        generator_optimizer=keras.optimizers.Adam(args.learning_rate, beta_1=0.5),
        discriminator_optimizer=keras.optimizers.Adam(args.learning_rate, beta_1=0.5),
        seed=args.seed,
        run_eagerly=args.run_eagerly,
    )
    history = model.fit(batches, epochs=1, verbose=2)
    losses = {k: round(float(v[-1]), 4) for k, v in history.history.items() if k in ("g_loss", "d_loss", "cycle_loss")}
    print(f"trained {args.steps} steps: {losses}")

    model.save_pretrained(args.out, overwrite=args.overwrite)
    print(f"saved {args.out}")

    # Reload and check that the saved preset translates exactly as the trained model does.
    reloaded = v2v.from_pretrained(args.out)
    video = data.to_channels(data.read_video(source_a.source.paths[0], 0, depth), model.channels_a)
    video = resize_frames(video, (height, width))
    expected = model.translate(video)
    found = reloaded.translate(video)
    difference = int(np.abs(expected.astype(np.int16) - found.astype(np.int16)).max())
    print(f"reloaded {args.out}: translation differs by at most {difference} (uint8 levels)")
    if difference > 1:
        print("error: the reloaded preset does not reproduce the trained model", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
