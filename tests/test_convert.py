"""`keras-v2v convert`: a preset folder from reference checkpoints, used like any preset (translate, demo)."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import keras_v2v as v2v  # noqa: E402
from keras_v2v import cli, data  # noqa: E402

from reference_torch import random_reference, run_reference  # noqa: E402


@pytest.fixture
def checkpoints(tmp_path):
    nets = {"A": random_reference(seed=1, ngf=4, n_blocks=2), "B": random_reference(seed=2, ngf=4, n_blocks=2)}
    paths = {}
    for side, net in nets.items():
        paths[side] = str(tmp_path / f"latest_net_G_{side}.pth")
        torch.save(net.state_dict(), paths[side])
    return paths, nets


def test_convert_writes_a_preset_that_translate_and_the_demo_load(checkpoints, tmp_path, rng, capsys):
    paths, nets = checkpoints
    out = tmp_path / "my_horse2zebra"
    assert cli.main(["convert", paths["A"], paths["B"], str(out), "--size", "32", "48",
                     "--domains", "horse", "zebra"]) == 0
    assert "wrote" in capsys.readouterr().out
    spec = json.loads((out / "keras_v2v.json").read_text())
    assert spec["generators_only"] and spec["method"] == "converted-2d" and spec["input_shape"] == [32, 48, 3]
    assert spec["source"]["checkpoints"]["a2b"]["file"] == "latest_net_G_A.pth"
    assert len(spec["source"]["checkpoints"]["b2a"]["sha256"]) == 64
    card = (out / "README.md").read_text()
    assert "license: unknown" in card and "FILL IN" in card and "Discriminators absent" in card

    # translate --model FOLDER: frame by frame, as PyTorch translates each frame.
    video = rng.integers(0, 256, (3, 24, 32, 3), dtype=np.uint8)
    data.write_video(str(tmp_path / "in.mp4"), video, fps=8)
    assert cli.main(["translate", str(tmp_path / "in.mp4"), str(tmp_path / "out.mp4"), "--model", str(out),
                     "--quiet"]) == 0
    translated = data.read_video(str(tmp_path / "out.mp4"))
    assert translated.shape == (3, 24, 32, 3)
    model = v2v.from_pretrained(str(out))
    source = data.read_video(str(tmp_path / "in.mp4"))
    expected = run_reference(nets["A"], source.astype("float32") / 127.5 - 1)
    direct = model.translate(source).astype("float32") / 127.5 - 1
    assert np.abs(direct - expected).max() <= 1.01 / 127.5  # uint8 rounding only

    # The demo takes a converted folder like any preset folder.
    from keras_v2v.demo import core

    table = core.resolve_presets({"my_horse2zebra": str(out)})
    result = core.translate_clip(str(tmp_path / "in.mp4"), "my_horse2zebra", "b2a", presets=table,
                                 out_dir=str(tmp_path / "demo"))
    assert result.frames == 3 and data.read_video(result.video).shape == (3, 24, 32, 3)


def test_convert_inflate_gives_a_video_model_equal_frame_by_frame(checkpoints, tmp_path, rng, capsys):
    paths, nets = checkpoints
    out = tmp_path / "video"
    assert cli.main(["convert", paths["A"], paths["B"], str(out), "--inflate", "--clip-length", "4",
                     "--size", "32", "32", "--discriminators", "fresh"]) == 0
    model = v2v.from_pretrained(str(out))
    assert model.rank == 3 and model.sample_shape == (4, 32, 32, 3) and len(model.discriminators) == 2
    spec = json.loads((out / "keras_v2v.json").read_text())
    assert spec["method"] == "converted-3d" and "freshly initialised" in spec["limitations"]
    clip = rng.uniform(0, 1, (6, 20, 24, 3)).astype("float32")
    expected = (run_reference(nets["B"], clip * 2 - 1) + 1) / 2
    np.testing.assert_allclose(model.translate(clip, direction="b2a"), expected, atol=1e-4)


def test_convert_refuses_bad_input_in_one_line(checkpoints, tmp_path, capsys):
    paths, _ = checkpoints
    assert cli.main(["convert", str(tmp_path / "out")]) == 2
    assert "convert takes G_A.pth [G_B.pth] OUT_DIR, got 1 paths" in capsys.readouterr().err
    unet = str(tmp_path / "unet.pth")
    torch.save({"model.model.0.weight": torch.zeros(8, 3, 4, 4)}, unet)
    assert cli.main(["convert", unet, str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "U-Net generator" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert cli.main(["convert", paths["A"], str(tmp_path / "mine")]) == 2
    assert "refusing to replace it" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
