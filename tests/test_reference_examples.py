"""examples/export_reference_checkpoint.py and examples/video_from_reference.py, end to end on tiny models."""

import importlib.util
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import keras  # noqa: E402

import keras_v2v as v2v  # noqa: E402
from keras_v2v import data  # noqa: E402

from helpers import tiny_2d  # noqa: E402
from reference_torch import ResnetGenerator, random_reference, run_reference  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "examples", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_torch(path, **kwargs):
    net = ResnetGenerator(**kwargs)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return net.eval()


def test_a_converted_preset_exports_exactly(tmp_path, rng, capsys):
    nets = [random_reference(seed=s, ngf=4, n_blocks=2, norm="batch") for s in (1, 2)]
    paths = [str(tmp_path / f"g{s}.pth") for s in (1, 2)]
    for net, path in zip(nets, paths):
        torch.save(net.state_dict(), path)
    v2v.from_reference_checkpoint(*paths, input_shape=(16, 16)).save_pretrained(
        tmp_path / "converted", allow_generators_only=True)
    assert _example("export_reference_checkpoint").main([str(tmp_path / "converted"), str(tmp_path / "out")]) == 0
    assert "exact (a converted checkpoint)" in capsys.readouterr().out
    for side, net in zip("AB", nets):
        exported = _load_torch(str(tmp_path / "out" / f"latest_net_G_{side}.pth"), ngf=4, n_blocks=2, norm="batch")
        frames = rng.uniform(-1, 1, (2, 12, 20, 3)).astype("float32")
        np.testing.assert_array_equal(run_reference(exported, frames), run_reference(net, frames))


@pytest.mark.parametrize("upsampling", ["transpose", "resize"])
def test_keras_v2v_generators_export_only_when_asked_and_load_in_the_reference(tmp_path, rng, capsys, upsampling):
    model = tiny_2d(size=16, channels=3, upsampling=upsampling)
    for variable in model.weights:  # trained-looking weights
        variable.assign(rng.normal(0, 0.3, variable.shape).astype("float32"))
    model.save_pretrained(tmp_path / "ours")
    export = _example("export_reference_checkpoint")
    assert export.main([str(tmp_path / "ours"), str(tmp_path / "refused")]) == 2
    assert "pass --approximate" in capsys.readouterr().err and not (tmp_path / "refused").exists()
    clip = rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8)
    data.write_video(str(tmp_path / "clip.mp4"), clip, fps=8)
    assert export.main([str(tmp_path / "ours"), str(tmp_path / "out"), "--approximate",
                        "--video-a", str(tmp_path / "clip.mp4"), "--video-b", str(tmp_path / "clip.mp4")]) == 0
    printed = capsys.readouterr().out
    assert f"approximate (upsampling='{upsampling}'" in printed and "refitted on 4 frames" in printed
    # The file is the reference's layout (affine instance norms) and converts back exactly.
    path = str(tmp_path / "out" / "latest_net_G_A.pth")
    net = _load_torch(path, ngf=2, n_blocks=1, affine=True)
    back = v2v.from_reference_checkpoint(path)
    frames = rng.uniform(-1, 1, (2, 16, 16, 3)).astype("float32")
    found = keras.ops.convert_to_numpy(back.generator_a2b(frames))
    assert np.abs(found - run_reference(net, frames)).max() <= 1e-4


def test_video_fine_tuning_example_trains_resumes_and_saves(tmp_path, rng, capsys):
    paths = []
    for seed, side in ((1, "A"), (2, "B")):
        paths.append(str(tmp_path / f"latest_net_G_{side}.pth"))
        torch.save(random_reference(seed=seed, ngf=2, n_blocks=1).state_dict(), paths[-1])
    for side in "ab":
        (tmp_path / side).mkdir()
        for k in range(2):
            video = rng.integers(0, 256, (6, 20, 24, 3), dtype=np.uint8)
            data.write_video(str(tmp_path / side / f"clip{k}.mp4"), video, fps=8)
    common = [*paths, "--videos-a", str(tmp_path / "a"), "--videos-b", str(tmp_path / "b"), "--size", "16", "16",
              "--clip-length", "4", "--chunk", "1", "--run-dir", str(tmp_path / "run"), "--out",
              str(tmp_path / "video"), "--lambda-warp", "10", "--run-eagerly", "--discriminator-layers", "2"]
    example = _example("video_from_reference")
    assert example.main(common + ["--steps", "1"]) == 0
    assert "converted and inflated" in capsys.readouterr().out
    assert os.listdir(tmp_path / "run") == ["checkpoint-1.keras"]
    first = v2v.from_pretrained(str(tmp_path / "video"))
    assert example.main(common + ["--steps", "2"]) == 0
    printed = capsys.readouterr().out
    assert "resuming from step 1" in printed and "step 2/2" in printed
    assert os.listdir(tmp_path / "run") == ["checkpoint-2.keras"]
    tuned = v2v.from_pretrained(str(tmp_path / "video"))
    assert tuned.rank == 3 and tuned.sample_shape == (4, 16, 16, 3) and len(tuned.discriminators) == 2
    # The warping loss (flows in the batches), not the "const" penalty, and kept across the resume.
    resumed = keras.saving.load_model(str(tmp_path / "run" / "checkpoint-2.keras"))
    assert resumed.loss_config["lambda_warp"] == 10.0 and resumed.loss_config["lambda_temporal"] == 0.0
    changed = [not np.allclose(a, b) for a, b in zip(tuned.generator_a2b.get_weights(),
                                                     first.generator_a2b.get_weights())]
    assert any(changed), "the resumed step left the generator unchanged"
