"""A reference PyTorch CycleGAN as a video model: convert, inflate, fine-tune on your own clips (resumable).

    python examples/video_from_reference.py latest_net_G_A.pth latest_net_G_B.pth \\
        --videos-a horses/ --videos-b zebras/ --size 256 256 --steps 2000 \\
        --run-dir runs/h2z-video --out my_horse2zebra_video/

1. `keras_v2v.from_reference_checkpoint` reads the two generators (exactly what PyTorch
   computes) and adds fresh 2D PatchGANs;
2. `keras_v2v.inflate` makes it a 3D CycleGAN: before training it translates every frame
   exactly as the checkpoints do, and its 3x3x3 body kernels start with zero time taps;
3. it trains on clips of `--clip-length` consecutive frames from the two folders (unpaired:
   any videos of each domain), with new 3D PatchGANs as critics and the warping loss
   (`--lambda-warp`, default 10): each output frame warped along the *input* clip's optical
   flow (OpenCV, computed while batching) onto the next, so the output moves as the input
   does (the "const" penalty on frame-to-frame change is not used: it rewards a still output);
4. every --chunk steps it saves RUN_DIR/checkpoint-<step>.keras (optimizer state included):
   run the same command again to resume from the newest one;
5. it writes the result as a preset folder (`keras-v2v translate in.mp4 out.mp4 --model OUT`).

The same run as a recipe (`keras-v2v convert ... --discriminators fresh`, then `keras-v2v train`
with `[model] init_from` and `[dataset] generator = "folders"`) is in the README's "Bring your own
CycleGAN"; this script shows the steps in Python.

Any Keras backend (KERAS_BACKEND=tensorflow|jax|torch). Reading .pth files needs torch
(`pip install keras-v2v[torch]`); the flows need OpenCV (`pip install keras-v2v[flow]`). The
reference's discriminators are not converted: the critics start from scratch, so keep the
learning rate low (the default 2e-5 is a tenth of CycleGAN's) and the generators barely move
while the critics catch up.
"""

import argparse
import glob
import os
import re
import sys

import keras

import keras_v2v as v2v
from keras_v2v import data
from keras_v2v.utils.files import atomic_path

CHECKPOINT = re.compile(r"checkpoint-(\d+)\.keras$")


class ChannelAdapter:
    """A video source whose frames are converted to `channels` (1 = grey, 3 = RGB)."""

    def __init__(self, source, channels):
        self.source, self.channels = source, channels

    def __len__(self):
        return len(self.source)

    def num_frames(self, i):
        return self.source.num_frames(i)

    def read(self, i, start, stop):
        return data.to_channels(self.source.read(i, start, stop), self.channels)


def newest_checkpoint(run_dir):
    """(step, path) of the newest checkpoint in run_dir, or (0, None)."""
    found = [(int(m.group(1)), p) for p in glob.glob(os.path.join(glob.escape(run_dir), "checkpoint-*.keras"))
             for m in [CHECKPOINT.search(p)] if m]
    return max(found) if found else (0, None)


def start(args):
    """The inflated, compiled model at step 0."""
    checkpoints = args.checkpoints + [None] * (2 - len(args.checkpoints))
    model_2d = v2v.from_reference_checkpoint(*checkpoints, input_shape=tuple(args.size), domains=tuple(args.domains),
                                             discriminators="fresh", discriminator_layers=args.discriminator_layers)
    model = v2v.inflate(model_2d, clip_length=args.clip_length, discriminators="fresh",
                        name=os.path.basename(os.path.normpath(args.out)))
    optimizer = lambda: keras.optimizers.Adam(args.learning_rate, beta_1=0.5)  # noqa: E731
    model.compile(generator_optimizer=optimizer(), discriminator_optimizer=optimizer(),
                  lambda_warp=args.lambda_warp, seed=args.seed, run_eagerly=args.run_eagerly)
    return model


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", help="latest_net_G_A.pth [latest_net_G_B.pth]")
    parser.add_argument("--videos-a", required=True, help="folder (or file) of domain A videos")
    parser.add_argument("--videos-b", required=True, help="folder (or file) of domain B videos")
    parser.add_argument("--run-dir", required=True, help="checkpoints; run again to resume")
    parser.add_argument("--out", required=True, help="preset folder to write at the end")
    parser.add_argument("--steps", type=int, default=1000, help="total training steps (batches)")
    parser.add_argument("--chunk", type=int, default=100, help="steps between checkpoints")
    parser.add_argument("--size", type=int, nargs=2, default=(256, 256), metavar=("HEIGHT", "WIDTH"),
                        help="training frame size (frames are resized to it)")
    parser.add_argument("--clip-length", type=int, default=8, help="frames per training clip")
    parser.add_argument("--discriminator-layers", type=int, default=3,
                        help="stride-2 layers of the new critics (3: 70x70 patches; fewer for small frames)")
    parser.add_argument("--batch-size", type=int, default=1, help="clips per batch")
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--lambda-warp", type=float, default=10.0,
                        help="weight of the warping loss along the input clips' optical flow (0: off)")
    parser.add_argument("--domains", nargs=2, default=("a", "b"), metavar=("A", "B"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-eagerly", action="store_true", help="no compiled graph (quicker for a few steps)")
    args = parser.parse_args(argv)
    if len(args.checkpoints) > 2:
        parser.error(f"give latest_net_G_A.pth and optionally latest_net_G_B.pth, got {len(args.checkpoints)} files")
    return args


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    step, path = newest_checkpoint(args.run_dir)
    if path:
        model = keras.saving.load_model(path)  # networks, optimizer state, loss settings
        model.run_eagerly = args.run_eagerly  # not part of what a checkpoint stores
        print(f"resuming from step {step} ({path})")
    else:
        model = start(args)
        print(f"converted and inflated {args.checkpoints}: 3D, clips of {args.clip_length} frames")

    depth, (height, width) = model.sample_shape[0], model.sample_shape[1:3]
    source_a = ChannelAdapter(data.VideoFileSource(args.videos_a, min_frames=depth), model.channels_a)
    source_b = ChannelAdapter(data.VideoFileSource(args.videos_b, min_frames=depth), model.channels_b)
    # A resumed run keeps the weight it was started with (the checkpoint stores it).
    flows = model.loss_config["lambda_warp"] > 0
    while step < args.steps:
        steps = min(args.chunk, args.steps - step)
        # A new seed per chunk: a resumed run draws new clips instead of repeating the first chunk's.
        batches = data.UnpairedVideoDataset(source_a, source_b, mode="clips", batch_size=args.batch_size,
                                            clip_length=depth, resize=(height, width), crop_size=(height, width),
                                            steps_per_epoch=steps, seed=args.seed + step, flows=flows)
        history = model.fit(batches, epochs=1, verbose=2)
        step += steps
        with atomic_path(os.path.join(args.run_dir, f"checkpoint-{step}.keras")) as tmp:
            model.save(tmp)
        for older in glob.glob(os.path.join(glob.escape(args.run_dir), "checkpoint-*.keras")):
            if os.path.basename(older) != f"checkpoint-{step}.keras":  # keep the newest only
                os.remove(older)
        losses = {k: round(float(v[-1]), 4) for k, v in history.history.items() if k in ("g_loss", "d_loss")}
        print(f"step {step}/{args.steps}: {losses}")
    model.save_pretrained(args.out, overwrite=True)
    print(f"wrote {args.out} (keras-v2v translate in.mp4 out.mp4 --model {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
