"""Generate Volumetric MNIST, train a 3D CycleGAN briefly, write a side-by-side GIF.

    python examples/volumetric_mnist_3d.py --steps 200 --out vmnist.gif

The GIF shows, over depth: input (spherical) | translation | ground truth (sandglass).
A few steps only shows the plumbing; the zoo presets are trained far longer.
"""

import argparse
import os

# TensorFlow's graph optimizer logs a harmless "remapper failed" error while it compiles the train
# step; level 3 keeps TensorFlow's C++ errors and warnings off stderr (set it to 0 to see them).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import keras_v2v as v2v  # noqa: E402
from keras_v2v import data  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volumes", type=int, default=60, help="volumes to generate per domain")
    parser.add_argument("--size", type=int, default=32, help="height and width of each volume")
    parser.add_argument("--depth", type=int, default=16, help="slices per volume")
    parser.add_argument("--clip", type=int, default=8, help="slices the 3D model sees at once")
    parser.add_argument("--steps", type=int, default=100, help="training steps")
    parser.add_argument("--out", default="vmnist_side_by_side.gif")
    args = parser.parse_args()

    # Paired ground truth exists, but training sees the domains split independently.
    dataset = data.volumetric_mnist(n=args.volumes, depth=args.depth, size=args.size, seed=0)
    train, test = dataset.split(0.7, seed=0)

    batches = data.UnpairedVideoDataset(
        train.a, train.b, mode="clips", batch_size=2, clip_length=args.clip,
        steps_per_epoch=args.steps, seed=0,
    )
    model = v2v.cyclegan_3d(
        input_shape=(args.clip, args.size, args.size, 1), filters=8, num_blocks=3,
        discriminator_filters=8, discriminator_layers=2,
        domains=(dataset.domain_a, dataset.domain_b),
    )
    model.compile(
        generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        discriminator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    )
    model.fit(batches, epochs=1)

    volume, truth = test.a[0], test.b[0]
    translated = model.translate(volume)
    l2 = float((((translated.astype("float32") - truth) / 255.0) ** 2).mean())
    print(f"mean squared error to ground truth on one held-out volume: {l2:.4f}")
    data.write_side_by_side(args.out, volume, translated, truth, labels=["input", "3d", "truth"], fps=8)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
