"""Serve an exported ONNX 3D generator with onnxruntime on a video file.

    keras-v2v export vmnist-sph2sand-3d vmnist-onnx --format onnx --dynamic
    python examples/serve_onnx.py vmnist-onnx examples/media/vmnist_spherical.mp4 sandglass.mp4

The graph maps clips (N, D, H, W, C) in [-1, 1] to clips in [-1, 1];
`translate` is the numpy windowing of `model.translate` (value ranges,
overlapping windows of the training depth, tent blending), fed by onnxruntime.
"""

import json
import os
import sys

import onnxruntime as ort

from keras_v2v import data
from keras_v2v.utils.windows import translate  # numpy only: no Keras, no TensorFlow

export_dir, source, target = sys.argv[1:4]
with open(os.path.join(export_dir, "export.json")) as handle:
    info = json.load(handle)
session = ort.InferenceSession(os.path.join(export_dir, info["file"]), providers=["CPUExecutionProvider"])


def generate(clips):  # (N, D, H, W, C) float32 in [-1, 1] -> the same in the target domain
    return session.run(None, {info["input"]["name"]: clips})[0]


video = data.to_channels(data.read_video(source), info["input"]["shape"][-1])  # (T, H, W, C) uint8
out = translate(generate, video, rank=3, channels=video.shape[-1], window=info["window"]["frames"], batch_size=4)
data.write_video(target, out, fps=data.video_info(source).fps or 30)
print(f"wrote {target} ({len(out)} frames)")
