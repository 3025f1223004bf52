"""A native PyTorch `translate` of a bundled preset: the inference benchmarks' reference.

`native_generator` rebuilds a Keras generator as the channels-first PyTorch
network of `native_torch.build_generator` (stem and body kernels, temporal
stride, number of blocks read from the Keras layers), swaps in per-frame
instance norms where the Keras model uses them (the presets made by
`keras_v2v.inflate`), and copies the weights (`native_torch.copy_keras_weights`).

`native_translate` is what a PyTorch user would write for the same job, in
torch only: windows of the training depth with the same overlap, time
mirroring at both ends, tent weights and batching (a short last batch padded
to the full size) as `keras_v2v.utils.windows`; only the code differs.
"""

import numpy as np
import torch
from torch import nn

try:
    from benchmarks import native_torch
except ImportError:  # run as a script from benchmarks/
    import native_torch


class FrameInstanceNorm(nn.Module):
    """Instance norm over each frame's H x W (not over T x H x W), with affine terms."""

    def __init__(self, width, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width))

    def forward(self, x):  # (N, C, T, H, W)
        var, mean = torch.var_mean(x, dim=(3, 4), keepdim=True, correction=0)
        scale = torch.rsqrt(var + self.eps) * self.weight.view(1, -1, 1, 1, 1)
        return x * scale + (self.bias.view(1, -1, 1, 1, 1) - mean * scale)


def _layer(keras_net, name):
    return keras_net.get_layer(name)


def architecture(keras_net):
    """The `build_generator` arguments and the norm kind of a keras_v2v generator."""
    stem = _layer(keras_net, "stem_conv")
    rank = len(stem.kernel_size)
    blocks = [layer for layer in keras_net.layers if layer.name.startswith("block")]
    down = _layer(keras_net, "down0_conv")
    return {
        "rank": rank,
        "channels": int(keras_net.inputs[0].shape[-1]),
        "channels_out": int(_layer(keras_net, "head_conv").filters),
        "filters": int(stem.filters),
        "num_blocks": len(blocks),
        "stem": tuple(stem.kernel_size),
        "body": tuple(down.kernel_size),
        "temporal_stride": rank == 2 or down.strides[0] == 2,
        "per_frame": bool(getattr(_layer(keras_net, "stem_norm"), "per_frame", False)),
        "multiple": tuple(_layer(keras_net, "pad_to_valid").multiple),
    }


def native_generator(keras_net):
    """The PyTorch twin of `keras_net` (eval mode, Keras' weights)."""
    arch = architecture(keras_net)
    rank = arch["rank"]
    net = native_torch.build_generator(rank, arch["channels"], arch["filters"], arch["num_blocks"], stem=arch["stem"],
                                       body=arch["body"], temporal_stride=arch["temporal_stride"])
    if arch["channels_out"] != arch["channels"]:
        old = net.head_conv
        net.head_conv = type(old)(old.in_channels, arch["channels_out"], old.kernel_size)
    if arch["per_frame"] and rank == 3:
        for name, module in list(net.named_modules()):
            if isinstance(module, nn.InstanceNorm3d):
                parent, _, leaf = name.rpartition(".")
                setattr(net.get_submodule(parent) if parent else net, leaf, FrameInstanceNorm(module.num_features))
    native_torch.copy_keras_weights(keras_net, net, rank)
    net.multiple, net.rank = arch["multiple"], rank
    return net.eval()


def _tent(window):
    t = torch.arange(window, dtype=torch.float32)
    return torch.minimum(t + 1, window - t)


def _starts(num_frames, window, overlap):
    if num_frames <= window:
        return [0]
    starts = list(range(0, num_frames - window, window - overlap))
    return starts + [num_frames - window]


def _mirror_index(num_frames, margin):
    index = torch.arange(-margin, num_frames + margin).abs()
    return torch.where(index >= num_frames, 2 * (num_frames - 1) - index, index)


def _check_size(net, clip):
    # keras_v2v edge-pads other sizes (PadToValidSize); the benchmarks' sizes need none.
    for size, multiple in zip(clip.shape[2:], net.multiple):
        if size % multiple:
            raise ValueError(f"native_translate needs sizes divisible by {net.multiple}, got {tuple(clip.shape[2:])}")


@torch.no_grad()
def native_translate(net, video, window=None, overlap=None, batch_size=8, even=True):
    """Translates a (T, H, W, C) uint8 or [0, 1] float video with a native generator; same dtype out.

    `even`: items split evenly over the passes (keras_v2v from i22 on); False:
    full passes of `batch_size`, the last padded to it (keras_v2v before).
    """
    dtype = video.dtype
    x = torch.from_numpy(np.ascontiguousarray(video)).float()
    x = x / 127.5 - 1 if dtype == np.uint8 else x * 2 - 1
    x = x.permute(3, 0, 1, 2)  # (C, T, H, W)
    if net.rank == 2:  # frames are the batch
        out = _framewise(net, x.permute(1, 0, 2, 3), batch_size, even).permute(1, 0, 2, 3)
    else:
        out = _windowed(net, x, window, window // 2 if overlap is None else overlap, batch_size, even)
    out = out.clamp(-1, 1).permute(1, 2, 3, 0)
    if dtype == np.uint8:
        return torch.round((out + 1) * 127.5).to(torch.uint8).numpy()
    return ((out + 1) * 0.5).numpy().astype(dtype)


def _per_call(count, batch_size, even):
    passes = -(-count // batch_size)
    return -(-count // passes) if even else min(batch_size, count)


def _framewise(net, frames, batch_size, even):
    _check_size(net, frames)
    per_call, outputs = _per_call(len(frames), batch_size, even), []
    for start in range(0, len(frames), per_call):
        batch = frames[start : start + per_call]
        count = len(batch)
        if count < per_call:  # one shape per call, as keras_v2v
            batch = torch.cat([batch, batch[-1:].expand(per_call - count, *batch.shape[1:])])
        outputs.append(net(batch)[:count])
    return torch.cat(outputs)


def _windowed(net, x, window, overlap, batch_size, even):
    num_frames = x.shape[1]
    if num_frames <= window:
        # Mirrored in time up to one window (numpy's "symmetric"), cropped back.
        index = torch.from_numpy(np.pad(np.arange(num_frames), (0, window - num_frames), mode="symmetric"))
        clip = x[:, index][None]
        _check_size(net, clip)
        return net(clip)[0][:, :num_frames]
    margin = min(window // 2, num_frames - 1) if overlap else 0
    index = _mirror_index(num_frames, margin)
    starts = _starts(len(index), window, overlap)
    tent = _tent(window).view(1, -1, 1, 1)
    acc, total = None, torch.zeros(len(index))
    per_call = _per_call(len(starts), batch_size, even)
    for first in range(0, len(starts), per_call):
        batch = starts[first : first + per_call]
        clips = torch.stack([x[:, index[s : s + window]] for s in batch])
        if len(batch) < per_call:
            clips = torch.cat([clips, clips[-1:].expand(per_call - len(batch), *clips.shape[1:])])
        _check_size(net, clips)
        outputs = net(clips)[: len(batch)]
        if acc is None:
            acc = torch.zeros((outputs.shape[1], len(index)) + tuple(outputs.shape[3:]))
        for start, output in zip(batch, outputs):
            acc[:, start : start + window] += output * tent
            total[start : start + window] += tent.view(-1)
    return acc[:, margin : margin + num_frames] / total[margin : margin + num_frames].view(1, -1, 1, 1)
