"""The example scripts as a user runs them: clean stderr, only the runtime they need, reproducible media."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from keras_v2v import data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
# TensorFlow's C++ log lines: "E0000 00:00:... file.cc:123] ..." (and W for warnings).
TF_PROBLEM = re.compile(r"^[EWF]\d{4} |remapper failed", re.M)


def _user_env():
    """The environment of a user who set nothing: no TF_CPP_MIN_LOG_LEVEL from the test session."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    return env


def test_the_volumetric_mnist_example_trains_without_tensorflow_error_lines(tmp_path):
    out = tmp_path / "vmnist.gif"
    result = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, "volumetric_mnist_3d.py"), "--volumes", "4", "--size", "16",
         "--depth", "8", "--clip", "4", "--steps", "2", "--out", str(out)],
        capture_output=True, text=True, env=_user_env(), timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert out.exists()
    assert not TF_PROBLEM.search(result.stderr), result.stderr[-3000:]


def test_serve_onnx_needs_onnxruntime_and_numpy_not_tensorflow(tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    # An identity "generator": the example's windows and value ranges give the input back.
    graph = helper.make_graph(
        [helper.make_node("Identity", ["video"], ["output_0"])], "identity",
        [helper.make_tensor_value_info("video", TensorProto.FLOAT, [None, None, None, None, 3])],
        [helper.make_tensor_value_info("output_0", TensorProto.FLOAT, [None, None, None, None, 3])])
    folder = tmp_path / "export"
    folder.mkdir()
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8),
              str(folder / "model.onnx"))
    (folder / "export.json").write_text(json.dumps({
        "file": "model.onnx", "input": {"name": "video", "shape": [None, None, None, None, 3]},
        "window": {"frames": 4}}))
    video = np.random.default_rng(0).integers(0, 256, (10, 16, 16, 3), dtype=np.uint8)
    data.write_video(str(tmp_path / "in.mp4"), video, fps=8)
    check = ("import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__'); "
             "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow', 'jax', 'torch')); "
             "assert not loaded, loaded")
    result = subprocess.run(
        [sys.executable, "-c", check, os.path.join(EXAMPLES, "serve_onnx.py"), str(folder), str(tmp_path / "in.mp4"),
         str(tmp_path / "out")], capture_output=True, text=True, env=_user_env(), timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert np.array_equal(data.read_frames(str(tmp_path / "out")), data.read_video(str(tmp_path / "in.mp4")))


def test_make_media_writes_the_committed_sample_clips(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, "media", "make_media.py"), "--out", str(tmp_path)],
                            capture_output=True, text=True, env=_user_env(), timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    written = sorted(p for p in os.listdir(tmp_path) if p.endswith(".mp4"))
    assert len(written) == 5
    for name in written:
        ours, committed = data.read_video(str(tmp_path / name)), data.read_video(os.path.join(EXAMPLES, "media", name))
        assert ours.shape == committed.shape and np.array_equal(ours, committed), name
