"""Export a 2D keras-v2v CycleGAN's generators as the reference PyTorch CycleGAN's checkpoints.

    python examples/export_reference_checkpoint.py PRESET OUT_DIR [--approximate] [--video-a A.mp4 --video-b B.mp4]

writes OUT_DIR/latest_net_G_A.pth (A -> B) and latest_net_G_B.pth (B -> A): state dicts of
pytorch-CycleGAN-and-pix2pix's ResnetGenerator, which `keras-v2v convert` (or
`keras_v2v.from_reference_checkpoint`) reads back. Needs torch (`pip install keras-v2v[torch]`).

Which models map exactly:
- A converted checkpoint (a preset written by `keras-v2v convert`): exactly, weight for weight.
- keras-v2v's own generators (`cyclegan_2d`, the zoo's 2D presets): only approximately, so
  the script refuses them unless --approximate. Their architecture is not the reference's:
  they reflect-pad before the stride-2 convolutions (the reference pads with zeros), and
  their up-steps are nearest x2 + 3x3 conv (`upsampling="resize"`, the zoo's default), which
  no 3x3 ConvTranspose2d can express, or a Conv2DTranspose one pixel off the reference's grid
  (`upsampling="transpose"`). --approximate folds each up-step's kernel onto the reference's
  ConvTranspose2d taps (exact on the odd output rows and columns, the even ones take the
  input pixel's left/upper neighbour as equal to it) and keeps the other weights; given
  --video-a/--video-b it then refits the up-steps' taps by least squares on the first half
  of each clip, and prints how far the exported generators are from the preset's on the
  second half (or on random frames). Their instance norms are affine: in the reference repo build the
  generator with `nn.InstanceNorm2d(affine=True)` (its `--norm instance` has no weights).
"""

import argparse
import os
import sys

import keras
import numpy as np

import keras_v2v as v2v
from keras_v2v import data
from keras_v2v.data.resize import resize_frames
from keras_v2v.models import reference_checkpoint as rc
from keras_v2v.models.reference import is_reference_generator
from keras_v2v.utils.files import atomic_path

# Per axis, the ConvTranspose2d taps (v0, v1, v2) as sums of the keras-v2v up-step's taps (w0, w1, w2).
# Reference: out[2m] = v1 x[m]; out[2m+1] = v2 x[m] + v0 x[m+1].
FOLD = {
    # nearest x2 + conv: out[2m] = w0 x[m-1] + (w1 + w2) x[m]; out[2m+1] = (w0 + w1) x[m] + w2 x[m+1].
    "resize": np.array([[0, 0, 1], [1, 1, 1], [1, 1, 0]], "float32"),
    # Conv2DTranspose "same": out[2m] = w0 x[m] + w2 x[m-1]; out[2m+1] = w1 x[m].
    "transpose": np.array([[0, 0, 0], [1, 0, 1], [0, 1, 0]], "float32"),
}


def _layers(generator):
    return {layer.name: layer for layer in generator.layers}


def reexpress(generator):
    """A reference-layout generator holding a keras-v2v generator's weights, up-steps folded (see FOLD)."""
    layers = _layers(generator)
    blocks = [layers[f"block{i}"] for i in range(sum(1 for n in layers if n.startswith("block")))]
    stem, up = layers["stem_conv"], layers["up0_conv"]
    upsampling = "transpose" if isinstance(up, keras.layers.Conv2DTranspose) else "resize"
    if tuple(stem.kernel_size) != (7, 7) or any(tuple(b.kernel_size) != (3, 3) for b in blocks):
        raise ValueError(f"{generator.name}: the reference has a 7x7 stem and 3x3 body, found {stem.kernel_size} "
                         f"and {[b.kernel_size for b in blocks]}")
    target = v2v.reference_resnet_generator(
        rank=2, channels=int(generator.inputs[0].shape[-1]), out_channels=int(layers["head_conv"].filters),
        filters=int(stem.filters), num_blocks=len(blocks), norm="instance", affine=True,
        dropout=blocks[0].dropout if blocks else 0.0, name=generator.name)
    copies = {name: layers[name] for name in ("stem_conv", "stem_norm", "down0_conv", "down0_norm", "down1_conv",
                                              "down1_norm", "up0_norm", "up1_norm", "head_conv")}
    for i, block in enumerate(blocks):
        for part in ("conv1", "norm1", "conv2", "norm2"):
            copies[f"block{i}_{part}"] = getattr(block, part)
    for name, source in copies.items():
        target.get_layer(name).set_weights(source.get_weights())
    for i in range(2):
        kernel, bias = (np.asarray(w) for w in layers[f"up{i}_conv"].get_weights())
        if upsampling == "resize":
            kernel = kernel.transpose(0, 1, 3, 2)  # Conv2D's (kh, kw, in, out) as Conv2DTranspose's (.., out, in)
        fold = FOLD[upsampling]
        target.get_layer(f"up{i}_conv").set_weights([np.einsum("ac,bd,cdoi->aboi", fold, fold, kernel), bias])
    return target, upsampling


# Per output phase (0 even, 1 odd) along one axis: the reference's (tap, input offset) pairs.
PHASE_TAPS = {0: [(1, 0)], 1: [(2, 0), (0, 1)]}


def _shifted(x, dr, dc):
    """x[:, m + dr, n + dc], zero past the end (as the transposed convolution sees it)."""
    return np.pad(x, ((0, 0), (0, dr), (0, dc), (0, 0)))[:, dr:dr + x.shape[1], dc:dc + x.shape[2]]


def fit_up_steps(source, target, frames):
    """Refits the target's up-step taps by least squares so that each matches the source's up-step on `frames`.

    Each tap of a 3x3 stride-2 ConvTranspose2d feeds exactly one output phase (even/odd row x
    even/odd column), so every phase is a small linear regression of the source's outputs on
    the shifted inputs. Layer by layer: the second up-step is fitted on what the refitted first gives.
    """
    for i in range(2):
        inputs = keras.Model(target.inputs[0], target.get_layer(f"up{i}_conv").input)
        wanted = keras.Model(source.inputs[0], source.get_layer(f"up{i}_conv").output)
        x = keras.ops.convert_to_numpy(inputs(frames, training=False))
        y = keras.ops.convert_to_numpy(wanted(frames, training=False))
        kernel, bias = (np.array(w) for w in target.get_layer(f"up{i}_conv").get_weights())
        biases = []
        for a in (0, 1):
            for b in (0, 1):
                taps = [(tr, tc, dr, dc) for tr, dr in PHASE_TAPS[a] for tc, dc in PHASE_TAPS[b]]
                design = np.concatenate([_shifted(x, dr, dc) for _, _, dr, dc in taps], -1)
                design = design.reshape(-1, x.shape[-1] * len(taps))
                design = np.concatenate([design, np.ones((len(design), 1), design.dtype)], -1)
                goal = y[:, a::2, b::2].reshape(-1, y.shape[-1])
                solution = np.linalg.lstsq(design, goal, rcond=None)[0]
                for k, (tr, tc, _, _) in enumerate(taps):
                    kernel[tr, tc] = solution[k * x.shape[-1]:(k + 1) * x.shape[-1]].T  # (out, in)
                biases.append(solution[-1])
        target.get_layer(f"up{i}_conv").set_weights([kernel, np.mean(biases, 0)])


def save_state_dict(state, path):
    import torch

    with atomic_path(path) as tmp:
        torch.save({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, tmp)


def clip_frames(model, path, direction):
    """The clip's frames at the preset's size, in [-1, 1]: the first half to fit on, the second to measure on."""
    channels = model.channels_a if direction == "a2b" else model.channels_b
    frames = data.to_channels(data.read_video(path), channels)
    frames = resize_frames(frames, model.sample_shape[:2]).astype("float32") / 127.5 - 1
    half = len(frames) // 2
    return (frames[:half], frames[half:]) if half else (frames, frames)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset", help="a 2D preset name or folder")
    parser.add_argument("out_dir", help="folder for latest_net_G_A.pth and latest_net_G_B.pth")
    parser.add_argument("--approximate", action="store_true",
                        help="export keras-v2v's own generators, which the reference layout cannot hold exactly")
    parser.add_argument("--video-a", default=None, help="a domain A clip: --approximate refits the up-steps on its "
                        "first half; both halves' second halves measure the export (default: random frames)")
    parser.add_argument("--video-b", default=None, help="a domain B clip, the same for the B -> A generator")
    args = parser.parse_args(argv)

    model = v2v.from_pretrained(args.preset, discriminators=False)
    if model.rank != 2:
        print(f"error: {args.preset} is a {model.rank}D model; the reference CycleGAN is framewise (2D)",
              file=sys.stderr)
        return 2
    rng = np.random.default_rng(0)
    for direction, generator, side, video in (("a2b", model.generator_a2b, "A", args.video_a),
                                              ("b2a", model.generator_b2a, "B", args.video_b)):
        channels = int(generator.inputs[0].shape[-1])
        fit, held_out = (clip_frames(model, video, direction) if video else
                         (None, rng.uniform(-1, 1, (4,) + model.sample_shape[:2] + (channels,)).astype("float32")))
        if is_reference_generator(generator):
            exported, how = generator, "exact (a converted checkpoint)"
        elif args.approximate:
            exported, upsampling = reexpress(generator)
            how = f"approximate (upsampling={upsampling!r}, reflect-padded strides)"
            if fit is not None:
                fit_up_steps(generator, exported, fit)
                how += f", up-steps refitted on {len(fit)} frames of {os.path.basename(video)}"
        else:
            print(f"error: {args.preset}'s {generator.name} is a keras-v2v generator, not the reference layout; "
                  "it maps only approximately (see --help); pass --approximate to export it anyway", file=sys.stderr)
            return 2
        path = os.path.join(args.out_dir, f"latest_net_G_{side}.pth")
        save_state_dict(rc.reference_state_dict(exported), path)
        diff = np.abs(keras.ops.convert_to_numpy(exported(held_out, training=False))
                      - keras.ops.convert_to_numpy(generator(held_out, training=False)))
        where = "held-out frames" if video else "random frames"
        print(f"wrote {path}: {direction}, {how}; output vs the preset's on {len(held_out)} {where} in [-1, 1]: "
              f"max abs diff {diff.max():.3g}, mean {diff.mean():.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
