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


def test_demo_lists_extra_presets_first_and_refuses_unknown_ones(preset, monkeypatch, capsys):
    pytest.importorskip("gradio")
    from keras_v2v.demo import app

    served = {}
    monkeypatch.setattr(app, "launch", lambda **kwargs: served.update(kwargs))
    assert cli.main(["demo", "--presets", f"{preset}, vmnist-sph2sand-2d-random"]) == 0
    names = list(served["presets"])
    # The folder under its folder name, then the registered name, then whatever else is here.
    assert names[:2] == ["tiny", "vmnist-sph2sand-2d-random"]
    assert served["presets"]["tiny"].rank == 3 and served["presets"]["tiny"].source.endswith("tiny")
    assert cli.main(["demo", "--presets", "no-such-preset"]) == 2
    assert "--presets 'no-such-preset': neither a preset folder nor a registered preset" in capsys.readouterr().err


def test_a_video_over_the_read_limit_gets_advice_in_the_commands_own_options(preset, tmp_path, capsys, monkeypatch):
    source = tmp_path / "long.mp4"
    data.write_video(str(source), np.zeros((20, 32, 48, 3), np.uint8), fps=10)
    monkeypatch.setenv("KERAS_V2V_MAX_DECODED_BYTES", str(10 * 32 * 48 * 3))  # 10 frames
    out = tmp_path / "out.mp4"
    assert cli.main(["translate", str(source), str(out), "--model", preset, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "over the limit of" in err and "--max-frames" in err and "--max-side" in err
    assert "KERAS_V2V_MAX_DECODED_BYTES=" in err
    assert "max_frames" not in err and "max_bytes" not in err and "start/stop" not in err
    # What the advice says works.
    assert cli.main(["translate", str(source), str(out), "--model", preset, "--quiet",
                     "--start", "5", "--max-frames", "8"]) == 0
    assert data.read_video(str(out)).shape[0] == 8


def test_progress_off_a_terminal_is_plain_lines(preset, tmp_path, capsys):
    import io

    source = tmp_path / "in.mp4"
    data.write_video(str(source), np.zeros((40, 16, 16, 3), np.uint8), fps=10)
    assert cli.main(["translate", str(source), str(tmp_path / "out.mp4"), "--model", preset,
                     "--batch-size", "1"]) == 0
    err = capsys.readouterr().err  # capsys is not a terminal, as a log file or a pipe is not
    assert "\r" not in err and err.count("translating: ") >= 2 and err.rstrip().endswith("(100%)")
    stream = io.StringIO()
    report = cli._progress_printer(stream)
    for done in range(1, 101):
        report(done, 100)
    assert stream.getvalue().count("\n") == 11 and "\r" not in stream.getvalue()  # the start, then every 10%
