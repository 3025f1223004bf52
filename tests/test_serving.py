"""`keras-v2v export`: each exported graph, run in the runtime that serves it, against the Keras generator.

SavedModel runs in TensorFlow (`tf.saved_model.load`), ONNX in onnxruntime,
LiteRT in ai-edge-litert's interpreter. Exports are made once per module
(about 5-20 s each on the 2-core CI machine) and shared between tests.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_v2v as v2v
from keras_v2v import cli, data, serving
from keras_v2v.serving import exporter

from helpers import tiny_2d, tiny_3d

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is in the `export` and `dev` extras")
pytest.importorskip("tf2onnx", reason="tf2onnx (Keras' ONNX converter) is in the `export` and `dev` extras")
pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is in the `export` and `dev` extras")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRESET_3D = "vmnist-sph2sand-3d"  # grey, trained on 16x64x64 clips
PRESET_2D = "mnist-colorize-2d-random"  # RGB frames, 64x64
FORMATS = ("saved_model", "onnx", "litert")
# float32 graphs: each runtime has its own kernels (oneDNN, MLAS, XNNPACK) that sum in
# other orders than Keras' TensorFlow run. Measured at most 2.2e-5 on outputs in
# [-1, 1]; 1e-4 is 1/78 of one uint8 grey level (2/255).
ATOL = 1e-4


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """get(preset, format, *flags) -> an export folder, made on first use."""
    root = tmp_path_factory.mktemp("exports")
    made = {}

    def get(preset, fmt, *flags):
        key = (preset, fmt) + flags
        if key not in made:
            out = root / "-".join([os.path.basename(preset), fmt, *[f.strip("-") for f in flags]])
            assert cli.main(["export", preset, str(out), "--format", fmt, *flags]) == 0
            made[key] = str(out)
        return made[key]

    return get


@pytest.fixture(scope="module")
def model_3d():
    return v2v.from_pretrained(PRESET_3D, discriminators=False)


def keras_generate(generator, batch):
    return keras.ops.convert_to_numpy(generator(batch, training=False))


def clips(rng, shape):
    return rng.uniform(-1, 1, shape).astype("float32")


@pytest.mark.parametrize("fmt", FORMATS)
def test_3d_export_matches_the_generator_and_translates_videos_like_the_model(fmt, exports, model_3d, rng):
    folder = exports(PRESET_3D, fmt)
    record = json.load(open(os.path.join(folder, "export.json")))
    assert record["format"] == fmt and record["preset"] == PRESET_3D and record["direction"] == "a2b"
    assert record["input"]["shape"] == [None, 16, 64, 64, 1] and record["input"]["layout"] == "NDHWC"
    assert record["input"]["range"] == [-1.0, 1.0] and record["input"]["dtype"] == "float32"
    assert record["dynamic_axes"] == ["batch"] and record["window"]["frames"] == 16
    assert record["weights_sha256"] == v2v.presets.load_registry()[PRESET_3D]["sha256"]
    assert record["versions"]["keras"] == keras.__version__ and record["versions"]["backend"] == "tensorflow"
    assert record["domains"] == {"from": "spherical", "to": "sandglass"}

    runtime = serving.open_export(folder)
    for batch in (1, 3):  # the batch axis is dynamic
        x = clips(rng, (batch, 16, 64, 64, 1))
        np.testing.assert_allclose(runtime(x), keras_generate(model_3d.generator_a2b, x), atol=ATOL)

    # 40 frames: windows of 16 overlapping by 8, tent-blended, batched 3 at a time.
    video = rng.uniform(0, 1, (40, 64, 64, 1)).astype("float32")
    expected = model_3d.translate(video, batch_size=3)
    np.testing.assert_allclose(serving.translate(runtime, video, batch_size=3), expected, atol=ATOL)
    as_uint8 = (video * 255).astype(np.uint8)
    got = serving.translate(runtime, as_uint8, batch_size=2)
    assert got.dtype == np.uint8
    assert np.abs(got.astype(int) - model_3d.translate(as_uint8, batch_size=2).astype(int)).max() <= 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_dynamic_3d_export_takes_any_batch_length_and_frame_size(fmt, exports, model_3d, rng):
    folder = exports(PRESET_3D, fmt, "--dynamic")
    record = serving.read_export(folder)
    assert record["input"]["shape"] == [None, None, None, None, 1]
    assert record["dynamic_axes"] == ["batch", "frames", "height", "width"]
    runtime = serving.open_export(folder)
    # Odd sizes make the generator pad to a multiple of 4 inside the graph and crop back.
    for shape in [(2, 16, 32, 32, 1), (1, 5, 30, 33, 1), (3, 9, 7, 12, 1)]:
        x = clips(rng, shape)
        out = runtime(x)
        assert out.shape == shape
        np.testing.assert_allclose(out, keras_generate(model_3d.generator_a2b, x), atol=ATOL)


@pytest.mark.parametrize("fmt", FORMATS)
def test_2d_export_of_an_rgb_preset(fmt, exports, rng):
    model = v2v.from_pretrained(PRESET_2D, discriminators=False)
    folder = exports(PRESET_2D, fmt, "--dynamic")
    record = serving.read_export(folder)
    assert record["rank"] == 2 and record["input"]["layout"] == "NHWC" and "window" not in record
    assert record["input"]["shape"] == [None, None, None, 3] == record["output"]["shape"]
    runtime = serving.open_export(folder)
    for shape in [(4, 32, 32, 3), (1, 20, 45, 3)]:
        x = clips(rng, shape)
        np.testing.assert_allclose(runtime(x), keras_generate(model.generator_a2b, x), atol=ATOL)
    video = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    got = serving.translate(runtime, video, batch_size=2)
    assert got.shape == (5, 32, 32, 3)
    assert np.abs(got.astype(int) - model.translate(video, batch_size=2).astype(int)).max() <= 1


def test_b2a_exports_the_other_generator_at_a_chosen_size(tmp_path, model_3d, rng):
    out = tmp_path / "b2a"
    argv = ["export", PRESET_3D, str(out), "--format", "saved_model", "--direction", "b2a",
            "--frames", "8", "--height", "24", "--width", "40"]
    assert cli.main(argv) == 0
    record = serving.read_export(out)
    assert record["domains"] == {"from": "sandglass", "to": "spherical"}
    assert record["input"]["shape"] == [None, 8, 24, 40, 1]
    assert record["window"] == {"frames": 8, "overlap": 4, "blend": "tent", "training_depth": 16}
    runtime = serving.open_export(out)
    x = clips(rng, (2, 8, 24, 40, 1))
    np.testing.assert_allclose(runtime(x), keras_generate(model_3d.generator_b2a, x), atol=ATOL)
    # The fixed clip length is the window; other frame sizes are refused in one line.
    video = rng.uniform(0, 1, (20, 24, 40, 1)).astype("float32")
    expected = model_3d.translate(video, direction="b2a", window=8, batch_size=2)
    np.testing.assert_allclose(serving.translate(runtime, video, batch_size=2), expected, atol=ATOL)
    with pytest.raises(ValueError, match="video: expected frames of 24x40 .* found 32x32"):
        serving.translate(runtime, np.zeros((20, 32, 32, 1), np.uint8))


def test_domains_with_different_channels_export_with_each_side_s_channels(tmp_path, rng):
    model = tiny_2d(size=16, channels=1, channels_b=3)
    model.save_pretrained(tmp_path / "grey2rgb")
    out = tmp_path / "out"
    assert cli.main(["export", str(tmp_path / "grey2rgb"), str(out), "--format", "litert", "--direction", "b2a"]) == 0
    record = serving.read_export(out)
    assert record["input"]["shape"] == [None, 16, 16, 3] and record["output"]["shape"] == [None, 16, 16, 1]
    x = clips(rng, (2, 16, 16, 3))
    np.testing.assert_allclose(serving.open_export(out)(x), keras_generate(model.generator_b2a, x), atol=ATOL)


# ---------------------------------------------------------------- mixed precision
@pytest.fixture(scope="module")
def mixed_presets(tmp_path_factory):
    """{policy: (preset folder of a tiny model built under it, a float32 model with the same generator weights)}."""
    made = {}
    for policy in ("mixed_float16", "mixed_bfloat16"):
        keras.config.set_dtype_policy(policy)
        try:
            model = tiny_3d(depth=8, size=16)
        finally:
            keras.config.set_dtype_policy("float32")
        assert model.generator_a2b.get_layer("stem_conv").compute_dtype == policy.split("_")[1]
        folder = tmp_path_factory.mktemp("mixed") / policy
        model.save_pretrained(folder)
        reference = tiny_3d(depth=8, size=16)
        reference.generator_a2b.set_weights(model.generator_a2b.get_weights())
        made[policy] = (str(folder), reference)
    return made


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_mixed_precision_model_exports_a_float32_graph(fmt, policy, mixed_presets, tmp_path, rng):
    folder, reference = mixed_presets[policy]
    out = tmp_path / "export"
    assert cli.main(["export", folder, str(out), "--format", fmt]) == 0
    record = serving.read_export(out)
    assert record["input"]["dtype"] == "float32" and record["training_dtype_policy"] == [policy]
    if fmt == "onnx":
        import onnx

        graph = onnx.load(os.path.join(out, "model.onnx")).graph
        assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        weights = {init.data_type for init in graph.initializer if len(init.dims) > 1}
        assert weights == {onnx.TensorProto.FLOAT}  # no float16/bfloat16 kernels
    x = clips(rng, (2, 8, 16, 16, 1))
    # The graph computes in float32: it matches the float32 generator, not the half-precision one.
    np.testing.assert_allclose(serving.open_export(out)(x), keras_generate(reference.generator_a2b, x), atol=ATOL)


@pytest.mark.parametrize("fmt,dtype,policy", [("saved_model", "float16", "mixed_float16"),
                                              ("onnx", "float16", "mixed_float16"),
                                              ("saved_model", "bfloat16", "mixed_bfloat16")])
def test_dtype_flag_exports_a_half_precision_graph(fmt, dtype, policy, mixed_presets, tmp_path, rng):
    folder, reference = mixed_presets[policy]
    out = tmp_path / "export"
    assert cli.main(["export", folder, str(out), "--format", fmt, "--dtype", dtype]) == 0
    record = serving.read_export(out)
    assert record["input"]["dtype"] == dtype == record["output"]["dtype"]
    if fmt == "onnx":
        session = ort.InferenceSession(os.path.join(out, "model.onnx"), providers=["CPUExecutionProvider"])
        assert session.get_inputs()[0].type == "tensor(float16)"
    x = clips(rng, (2, 8, 16, 16, 1))
    got = serving.open_export(out)(x)
    # Half precision through ~20 layers: a coarse check only (float16 keeps 11 bits, bfloat16 8).
    assert np.isfinite(got).all()
    tolerance = 0.1 if dtype == "bfloat16" else 0.05  # measured: 0.032 (bfloat16), 0.024 and 0.004 (float16)
    np.testing.assert_allclose(got, keras_generate(reference.generator_a2b, x), atol=tolerance)


# ---------------------------------------------------------------- the folder, and bad input
@pytest.fixture(scope="module")
def tiny_preset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny") / "tiny3d"
    tiny_3d(depth=4, size=16).save_pretrained(folder)
    return str(folder)


def test_out_is_replaced_only_when_it_is_an_export_and_overwrite_is_given(tiny_preset, tmp_path, capsys):
    out = tmp_path / "served"
    assert cli.main(["export", tiny_preset, str(out), "--format", "saved_model"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert cli.main(["export", tiny_preset, str(out), "--format", "saved_model", "--direction", "b2a"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--overwrite" in err and "previous export" in err
    assert serving.read_export(out)["direction"] == "a2b"
    assert cli.main(["export", tiny_preset, str(out), "--format", "saved_model", "--direction", "b2a",
                     "--overwrite"]) == 0
    assert serving.read_export(out)["direction"] == "b2a"
    assert sorted(os.listdir(tmp_path)) == ["served"]  # no staging folders left behind

    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    assert cli.main(["export", tiny_preset, str(other), "--format", "onnx", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "OUT: expected a new path or a previous export" in err and "export.json" in err
    assert os.listdir(other) == ["keep.txt"]


def test_a_failed_conversion_keeps_the_previous_export(tiny_preset, tmp_path, monkeypatch, capsys):
    out = tmp_path / "served"
    assert cli.main(["export", tiny_preset, str(out), "--format", "saved_model"]) == 0
    before = sorted(os.listdir(out))

    def broken(*args, **kwargs):
        raise RuntimeError("converter exploded\nsecond line")

    monkeypatch.setattr(keras.Model, "export", broken)
    assert cli.main(["export", tiny_preset, str(out), "--format", "saved_model", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "--format saved_model: Keras' exporter failed: RuntimeError: converter exploded" in err
    assert "second line" not in err
    assert sorted(os.listdir(out)) == before and serving.read_export(out)["format"] == "saved_model"
    assert sorted(os.listdir(tmp_path)) == ["served"]


@pytest.mark.parametrize("argv,message", [
    (["--format", "litert", "--dtype", "float16"], "--dtype: expected float32 for --format litert"),
    (["--format", "onnx", "--dtype", "bfloat16"], "--dtype: expected float32 or float16 for --format onnx"),
    (["--format", "onnx", "--dynamic", "--height", "32"], "--dynamic: expected either --dynamic or"),
    (["--format", "onnx", "--height", "0"], "--height: expected a size from 1 to 65536, found 0"),
    (["--format", "onnx", "--width", "100000000"], "--width: expected a size from 1 to 65536, found 100000000"),
    # Bounded by the memory estimate before any tracing (tf2onnx died with signal 11 on such a graph).
    (["--format", "onnx", "--width", "60000", "--height", "60000"], "--height 60000 --width 60000: running the "
                                                                    "exported graph on one"),
    (["--format", "saved_model", "--width", "60000", "--height", "60000"], "over the limit of"),
])
def test_bad_export_options_are_one_line(argv, message, tiny_preset, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERAS_V2V_MAX_MEMORY", "8GiB")  # the same limit on any machine
    assert cli.main(["export", tiny_preset, str(tmp_path / "out"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-v2v: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_frames_is_refused_for_a_2d_preset(tmp_path, capsys):
    assert cli.main(["export", PRESET_2D, str(tmp_path / "out"), "--format", "onnx", "--frames", "8"]) == 2
    assert "--frames: expected no frame count for a 2D (framewise) preset" in capsys.readouterr().err


def test_export_refuses_other_backends():
    code = ("import sys; from keras_v2v import cli; "
            f"sys.exit(cli.main(['export', {PRESET_3D!r}, 'x', '--format', 'onnx']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT,
                            env={**os.environ, "KERAS_BACKEND": "jax"})
    assert result.returncode == 2
    assert "KERAS_BACKEND: expected tensorflow" in result.stderr and "found jax" in result.stderr


def test_export_help_imports_no_backend():
    code = ("import sys, json\nfrom keras_v2v import cli\ntry:\n    cli.main(['export', '--help'])\n"
            "except SystemExit:\n    pass\n"
            "heavy = ('tensorflow', 'jax', 'torch', 'keras', 'onnxruntime')\n"
            "print(json.dumps([m for m in heavy if m in sys.modules]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0 and "--dynamic" in result.stdout and result.stderr == ""
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_pad_and_crop_on_sizes_known_only_at_run_time_match_the_static_path(rng):
    import tensorflow as tf

    from keras_v2v.models.layers import CropToReference, PadToValidSize

    pad, crop = PadToValidSize((4, 4, 4), (8, 8, 8)), CropToReference()

    @tf.function(input_signature=[tf.TensorSpec((None, None, None, None, 2))])
    def dynamic(x):
        padded = pad(x)
        return padded, crop(padded * 2.0, x)

    for shape in [(1, 3, 9, 10, 2), (2, 8, 12, 16, 2), (1, 1, 1, 1, 2)]:
        x = rng.normal(size=shape).astype("float32")
        padded, cropped = (v.numpy() for v in dynamic(x))
        np.testing.assert_array_equal(padded, keras.ops.convert_to_numpy(pad(x)))
        np.testing.assert_array_equal(cropped, 2 * x)


def test_input_shape_rules():
    shape = exporter.input_shape
    assert shape([16, 32, 32, 1], 3) == [16, 32, 32, 1]
    assert shape([16, 32, 32, 1], 3, frames=8, width=40) == [8, 32, 40, 1]
    assert shape([32, 32, 3], 2, height=20) == [20, 32, 3]
    assert shape([32, 32, 3], 2, dynamic=True) == [None, None, 3]


# ---------------------------------------------------------------- the README's serving example
def test_the_readme_serving_example_runs_and_matches_translate(exports, model_3d, tmp_path):
    example = open(os.path.join(ROOT, "examples", "serve_onnx.py")).read()
    code = example.split('"""', 2)[2].strip()
    assert code in open(os.path.join(ROOT, "README.md")).read(), "README's Serving example differs from the file"

    folder = exports(PRESET_3D, "onnx", "--dynamic")
    rng = np.random.default_rng(1)
    # 40 frames (overlapping windows) of a size the model was not trained at.
    video = np.repeat(rng.integers(0, 256, (40, 18, 22, 1), dtype=np.uint8), 2, axis=1)
    video = np.repeat(video, 2, axis=2)
    source = tmp_path / "in.mp4"
    data.write_video(str(source), np.repeat(video, 3, axis=-1), fps=8, crf=0)
    target = tmp_path / "frames"  # PNG frames: lossless, so the comparison is exact
    result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "serve_onnx.py"), folder, str(source),
                             str(target)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    served = data.read_frames(str(target))
    decoded = data.to_channels(data.read_video(str(source)), 1)
    expected = model_3d.translate(decoded, batch_size=4)
    assert served.shape[:3] == expected.shape[:3] == (40, 36, 44)
    assert np.abs(data.to_channels(served, 1).astype(int) - expected.astype(int)).max() <= 1
