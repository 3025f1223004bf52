import numpy as np
import pytest

from keras_v2v import cli, data

from helpers import tiny_3d


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("presets") / "tiny"
    tiny_3d(depth=4, size=16, channels=3).save_pretrained(folder)
    return str(folder)


def test_translate_a_video_file_end_to_end(preset, tmp_path, capsys):
    rng = np.random.default_rng(0)
    source = tmp_path / "in.mp4"
    data.write_video(str(source), rng.integers(0, 256, (9, 32, 48, 3), dtype=np.uint8), fps=10)
    out = tmp_path / "out.mp4"
    assert cli.main(["translate", str(source), str(out), "--model", preset, "--quiet"]) == 0
    translated = data.read_video(str(out))
    assert translated.shape == (9, 32, 48, 3)
    side = tmp_path / "side.gif"
    assert cli.main(["translate", str(source), str(side), "--model", preset, "--side-by-side", "--quiet"]) == 0
    assert data.read_video(str(side)).shape[2] > 2 * 48
    assert "wrote" in capsys.readouterr().out


def test_bad_input_is_one_line_and_exit_status_2(preset, tmp_path, capsys):
    assert cli.main(["translate", str(tmp_path / "missing.mp4"), "o.mp4", "--model", preset]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-v2v: error:") and "missing.mp4" in err and "Traceback" not in err
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    assert cli.main(["translate", str(broken), "o.mp4", "--model", preset]) == 2
    assert "broken.mp4" in capsys.readouterr().err
    assert cli.main(["translate", str(broken), "o.mp4", "--model", str(tmp_path / "nope")]) == 2


def test_info_prints_the_preset_spec(preset, capsys):
    assert cli.main(["info", preset]) == 0
    assert '"rank": 3' in capsys.readouterr().out
