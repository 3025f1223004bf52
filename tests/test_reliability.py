"""Nothing lost, nothing blown up: output safety, memory bounds, non-finite data, integrity, exact resume."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import keras_v2v as v2v
from keras_v2v import cli, data
from keras_v2v.data.errors import DataError
from keras_v2v.data.video_write import write_video
from keras_v2v.presets import storage
from keras_v2v.training import recipes, resumable, run
from keras_v2v.utils import files, limits

from fuzzing import gif_claiming, nifti_bytes, smooth_video
from helpers import all_weights, tiny_3d

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIP = os.path.join(ROOT, "examples", "media", "vmnist_spherical.mp4")


def _user_folder(path):
    path.mkdir()
    (path / "notes.txt").write_text("keep me")
    (path / "holiday.png").write_bytes(open(os.path.join(ROOT, "docs", "results", "table2_samples.png"), "rb").read())
    return path


# ------------------------------------------------------------ output safety


@pytest.mark.parametrize("target", ["", ".", ".."])
def test_write_video_refuses_empty_and_enclosing_paths(tmp_path, monkeypatch, target):
    work = tmp_path / "work"
    work.mkdir()
    (work / "mine.txt").write_text("keep me")
    monkeypatch.chdir(work)
    with pytest.raises(ValueError, match="empty|current folder"):
        write_video(target, smooth_video(2))
    assert os.listdir(work) == ["mine.txt"] and sorted(os.listdir(tmp_path)) == ["work"]


def test_frame_folder_is_replaced_only_when_it_holds_our_frames(tmp_path):
    user = _user_folder(tmp_path / "photos")
    with pytest.raises(ValueError, match="did not write"):
        write_video(user, smooth_video(2))
    assert sorted(os.listdir(user)) == ["holiday.png", "notes.txt"]
    frames = write_video(tmp_path / "frames", smooth_video(4))
    write_video(frames, smooth_video(2))  # ours: replaced
    assert sorted(os.listdir(frames)) == ["frame_00000.png", "frame_00001.png"]
    assert all(data.video_write.is_our_frame(os.path.join(frames, n)) for n in os.listdir(frames))


def test_a_killed_write_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    target = tmp_path / "out.mp4"
    # A dead process's leftover, and a live one's (ours) that must be kept.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".out.tmp-{int(dead.stdout)}-0123abcd.mp4"
    stale.write_bytes(b"half a video")
    live = tmp_path / f".out.tmp-{os.getpid()}-4567cdef.mp4"
    live.write_bytes(b"being written")
    write_video(target, smooth_video(3), fps=5)
    assert sorted(os.listdir(tmp_path)) == sorted(["out.mp4", live.name])
    assert data.read_video(target).shape[0] == 3


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), files.atomic_path(target) as tmp:
        open(tmp, "w").write("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["notes.txt"]


def test_translate_refuses_to_overwrite_its_input(tmp_path, capsys):
    clip = tmp_path / "x.mp4"
    shutil.copy(CLIP, clip)
    before = clip.read_bytes()
    assert cli.main(["translate", str(clip), str(clip), "--model", "vmnist-sph2sand-3d", "--quiet"]) == 2
    assert "is the input file" in capsys.readouterr().err and clip.read_bytes() == before
    link = tmp_path / "link.mp4"
    link.symlink_to(clip)
    assert cli.main(["translate", str(clip), str(link), "--model", "vmnist-sph2sand-3d", "--quiet"]) == 2
    assert clip.read_bytes() == before


def test_translate_refuses_a_folder_of_user_files_before_loading_a_model(tmp_path, capsys):
    user = _user_folder(tmp_path / "mine")
    assert cli.main(["translate", CLIP, str(user), "--model", "no-such-model", "--quiet"]) == 2
    assert "did not write" in capsys.readouterr().err  # the output is checked first
    assert sorted(os.listdir(user)) == ["holiday.png", "notes.txt"]


TINY = """name = "tiny-vmnist-3d"
task = "vmnist-sph2sand"
method = "3d"

[dataset]
generator = "volumetric_mnist"
n = 6
depth = 8
size = 16

[model]
clip_length = 8
filters = 2
num_blocks = 1
discriminator_filters = 2
discriminator_layers = 2

[training]
steps = 2
chunk = 1
pool_size = 2
sample_every = 0
"""


@pytest.fixture
def recipe_file(tmp_path):
    path = tmp_path / "recipe.toml"
    path.write_text(TINY)
    return path


def test_train_refuses_an_out_folder_of_user_files_unless_overwrite(recipe_file, tmp_path, capsys):
    user = _user_folder(tmp_path / "mine")
    args = ["train", str(recipe_file), "--run-dir", str(tmp_path / "run"), "--out", str(user), "--quiet",
            "--no-tensorboard", "--no-evaluate"]
    assert cli.main(args) == 2
    assert "not a keras-v2v preset" in capsys.readouterr().err
    assert sorted(os.listdir(user)) == ["holiday.png", "notes.txt"] and not (tmp_path / "run").exists()
    assert cli.main(args + ["--overwrite"]) == 0
    assert storage.is_preset_folder(user) and not (user / "notes.txt").exists()
    assert cli.main(args) == 0  # now a preset folder keras-v2v wrote: replaced without asking


def test_train_refuses_a_run_dir_that_is_not_a_run(recipe_file, tmp_path, capsys):
    user = _user_folder(tmp_path / "mine")
    assert cli.main(["train", str(recipe_file), "--run-dir", str(user), "--quiet"]) == 2
    assert "not a keras-v2v run folder" in capsys.readouterr().err
    assert sorted(os.listdir(user)) == ["holiday.png", "notes.txt"]


def test_save_pretrained_never_replaces_a_folder_that_is_not_a_preset(tmp_path):
    model = tiny_3d()
    user = _user_folder(tmp_path / "mine")
    with pytest.raises(FileExistsError, match="not a keras-v2v preset"):
        model.save_pretrained(user, overwrite=True)
    assert sorted(os.listdir(user)) == ["holiday.png", "notes.txt"]


def test_a_preset_holding_a_users_file_is_not_replaced_by_train(recipe_file, tmp_path, capsys):
    preset = tmp_path / "copy"
    shutil.copytree(os.path.join(ROOT, "zoo", "vmnist-sph2sand-2d-random"), preset)
    (preset / "notes.txt").write_text("keep me")
    args = ["train", str(recipe_file), "--run-dir", str(tmp_path / "run"), "--out", str(preset), "--quiet",
            "--no-tensorboard", "--no-evaluate"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "notes.txt" in err and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert (preset / "notes.txt").read_text() == "keep me" and not (tmp_path / "run").exists()


def test_a_space_folder_holding_a_users_file_is_not_replaced(tmp_path, capsys):
    out = tmp_path / "space"
    args = ["space", str(out), "--presets", "vmnist-sph2sand-2d-random"]
    assert cli.main(args) == 0
    (out / "notes.txt").write_text("keep me")
    (out / "presets" / "vmnist-sph2sand-2d-random" / "mine.md").write_text("mine too")
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "notes.txt" in err and "presets/vmnist-sph2sand-2d-random/mine.md" in err
    assert (out / "notes.txt").read_text() == "keep me"
    assert cli.main(args + ["--overwrite"]) == 0 and not (out / "notes.txt").exists()
    (out / "keras_v2v" / "__pycache__").mkdir()  # what running app.py leaves: a cache, not a user's file
    (out / "keras_v2v" / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"cache")
    assert cli.main(args) == 0  # only our files: replaced without asking
    assert cli.main(["space", str(tmp_path / "other"), "--presets", ""]) == 2
    assert "--presets: expected comma-separated preset names" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()


def test_reproduce_does_not_replace_existing_reports(tmp_path, capsys):
    out = tmp_path / "results"
    out.mkdir()
    (out / "table2.md").write_text("my table")
    argv = ["reproduce", "table2", "--budget", "smoke", "--runs-dir", str(tmp_path / "runs"), "--out-dir", str(out)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "table2.md" in err and "--overwrite" in err
    assert (out / "table2.md").read_text() == "my table" and not (tmp_path / "runs").exists()


def test_fifos_and_devices_are_refused_by_type(tmp_path, capsys):
    fifo = tmp_path / "recipe.toml"
    os.mkfifo(fifo)
    # In a subprocess: the old code blocked forever opening the FIFO.
    result = subprocess.run([sys.executable, "-m", "keras_v2v.cli", "train", str(fifo)], capture_output=True,
                            text=True, timeout=120, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 2 and f"{fifo}: expected a recipe file (TOML), found a FIFO" in result.stderr
    clip = tmp_path / "clip.mp4"
    os.mkfifo(clip)
    for source, kind in ((clip, "a FIFO"), ("/dev/zero", "a character device")):
        assert cli.main(["translate", str(source), str(tmp_path / "o.mp4"), "--model", "no-such-model"]) == 2
        err = capsys.readouterr().err
        assert f"{source}: expected a video file, a frame folder or a NIfTI volume, found {kind}" in err
        with pytest.raises(DataError, match=f"found {kind}"):
            data.read_video(source)
    volume = tmp_path / "v.nii.gz"
    os.mkfifo(volume)
    with pytest.raises(DataError, match="expected a NIfTI or DICOM file .* found a FIFO"):
        data.read_volume(volume)
    preset = tmp_path / "preset"
    shutil.copytree(os.path.join(ROOT, "zoo", "vmnist-sph2sand-2d-random"), preset)
    (preset / "model.weights.h5").unlink()
    os.mkfifo(preset / "model.weights.h5")
    with pytest.raises(ValueError, match="model.weights.h5: expected .* found a FIFO"):
        storage.load_folder(preset)


# ------------------------------------------------------------ memory bounds


def test_a_gif_that_declares_huge_frames_is_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.gif"
    bomb.write_bytes(gif_claiming(4000, 4000, frames=60))
    assert bomb.stat().st_size < 3000
    with pytest.raises(DataError, match=r"60 frames of 4000x4000 .* KERAS_V2V_MAX_DECODED_BYTES"):
        data.read_video(bomb)
    with pytest.raises(DataError, match="one 16000x16000 frame"):
        bomb.write_bytes(gif_claiming(16000, 16000, frames=1))
        data.read_video(bomb, max_side=64, max_bytes="512MiB")  # the decoder's own frame counts too
    # Downscaling while decoding keeps the 4000x4000 one within bounds.
    bomb.write_bytes(gif_claiming(4000, 4000, frames=2))
    assert data.read_video(bomb, max_side=64).shape == (2, 64, 64, 3)


def test_decoding_limit_comes_from_the_argument_or_the_environment(tmp_path, monkeypatch):
    clip = write_video(tmp_path / "c.mp4", smooth_video(8, 32, 32), fps=8)
    with pytest.raises(DataError, match="over the limit of 10 KiB"):
        data.read_video(clip, max_bytes="10KiB")
    monkeypatch.setenv("KERAS_V2V_MAX_DECODED_BYTES", "20KiB")
    with pytest.raises(DataError, match="over the limit of 20 KiB"):
        data.read_video(clip)
    assert data.read_video(clip, max_frames=2).shape == (2, 32, 32, 3)  # 6 KiB: fine
    monkeypatch.setenv("KERAS_V2V_MAX_DECODED_BYTES", "lots")
    with pytest.raises(ValueError, match="KERAS_V2V_MAX_DECODED_BYTES must be a size"):
        data.read_video(clip)
    assert limits.parse_bytes("1.5 GiB") == 3 * 2**29 and limits.parse_bytes(4096) == 4096


@pytest.mark.parametrize("variable", ["KERAS_V2V_MAX_MEMORY", "KERAS_V2V_MAX_DECODED_BYTES"])
@pytest.mark.parametrize("value, message", [("1e999", "at most 1 EiB"), ("0.5", "at least 1 byte"),
                                            ("-3GiB", "must be a size such as"), ("nan", "must be a size such as")])
def test_limit_variables_are_parsed_strictly(variable, value, message, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv(variable, value)
    # Before any model loads: the model name does not even exist.
    assert cli.main(["translate", CLIP, str(tmp_path / "o.mp4"), "--model", "no-such-model"]) == 2
    err = capsys.readouterr().err
    assert f"{variable} must be" in err and message in err and len(err.strip().splitlines()) == 1
    if variable == "KERAS_V2V_MAX_DECODED_BYTES":
        with pytest.raises(ValueError, match=message):
            data.read_video(CLIP)


def test_a_volume_header_claiming_768_cubed_is_refused_before_loading(tmp_path):
    path = tmp_path / "bomb.nii.gz"
    path.write_bytes(nifti_bytes(np.zeros((4, 4, 4)), dims=(768, 768, 768)))
    with pytest.raises(DataError, match=r"768 x 768 x 768 voxels .* over the limit"):
        data.read_volume(path)


def test_translate_refuses_what_it_cannot_run_in_memory_and_downscales_on_request(tmp_path, monkeypatch, capsys):
    big = write_video(tmp_path / "big.mp4", np.zeros((2, 512, 512, 3), np.uint8), fps=8)
    monkeypatch.setenv("KERAS_V2V_MAX_MEMORY", "256MiB")
    out = tmp_path / "out.mp4"
    assert cli.main(["translate", str(big), str(out), "--model", "vmnist-sph2sand-3d", "--quiet"]) == 2
    error = capsys.readouterr().err
    assert "over the limit of 256 MiB" in error and "--max-side" in error and not out.exists()
    assert cli.main(["translate", str(big), str(out), "--model", "vmnist-sph2sand-3d", "--quiet",
                     "--max-side", "64"]) == 0
    assert data.read_video(out).shape == (2, 64, 64, 3)


def test_translate_refuses_a_gif_bomb_from_its_header_before_decoding(tmp_path, monkeypatch, capsys):
    bomb = tmp_path / "bomb.gif"
    bomb.write_bytes(gif_claiming(4000, 4000, frames=24))  # 1.07 GiB decoded: under the decoding limit
    monkeypatch.setattr(cli, "_read_input", lambda *args: pytest.fail("decoded before the memory check"))
    assert cli.main(["translate", str(bomb), str(tmp_path / "o.mp4"), "--model", "vmnist-sph2sand-3d"]) == 2
    err = capsys.readouterr().err
    assert "frames of 4000x4000 per forward pass would take" in err and "--max-side" in err


def test_the_volume_shape_comes_from_the_header_in_read_volumes_axis_order(tmp_path):
    import nibabel as nib

    affine = np.array([[0, 0, 2.0, 0], [-1.0, 0, 0, 0], [0, 1.5, 0, 0], [0, 0, 0, 1]])  # axes permuted, one flipped
    nib.save(nib.Nifti1Image(np.zeros((3, 5, 7), np.float32), affine), tmp_path / "v.nii.gz")
    assert data.volume_io.nifti_shape(tmp_path / "v.nii.gz") == data.read_volume(tmp_path / "v.nii.gz").shape[:3]


def test_a_window_longer_than_the_clip_is_capped():
    model = v2v.from_pretrained("vmnist-sph2sand-3d", discriminators=False)
    clip = data.read_video(CLIP)[:, :, :, :1]
    np.testing.assert_array_equal(model.translate(clip, window=100000), model.translate(clip))


# ------------------------------------------------------------ non-finite values


def test_a_png_too_large_for_the_decoder_is_called_too_large(tmp_path):
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    # 20000x20000 declared; a few rows of data are enough for the decoder to start.
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\x00" * 60001 * 4)) + chunk(b"IEND", b""))
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "f1.png").write_bytes(png)
    for read in (data.read_video, data.read_frames):
        with pytest.raises(DataError, match="declares a frame size of 20000x20000, too large to decode"):
            read(tmp_path / "frames" / "f1.png" if read is data.read_video else tmp_path / "frames")


def test_float64_values_past_float32_are_named_not_called_non_finite(tmp_path):
    import nibabel as nib

    values = np.random.default_rng(0).normal(size=(4, 5, 6)) * 1e300
    nib.save(nib.Nifti1Image(values, np.eye(4)), tmp_path / "v.nii.gz")
    with pytest.raises(DataError, match=r"holds float64 values beyond float32's range"):
        data.read_volume(tmp_path / "v.nii.gz")


def test_volumes_near_the_float32_limits_normalise_without_nan(tmp_path):
    values = np.random.default_rng(0).normal(size=(4, 6, 8))
    path = tmp_path / "extreme.nii.gz"
    path.write_bytes(nifti_bytes(np.where(values > 0, 3e38, -3e38)))
    volume = data.read_volume(path)
    assert np.isfinite(volume).all() and set(np.unique(volume)) == {0.0, 1.0}


def test_nan_is_never_written(tmp_path):
    with pytest.raises(DataError, match="NaN"):
        data.write_nifti(tmp_path / "v.nii.gz", np.full((2, 3, 4), np.nan))
    assert not (tmp_path / "v.nii.gz").exists()
    model = tiny_3d()
    kernel = model.generator_a2b.get_layer("head_conv").kernel
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.translate(np.zeros((8, 16, 16, 1), np.uint8))


# ------------------------------------------------------------ integrity


def test_a_registered_preset_named_by_its_hub_repo_is_checked_against_the_registry(tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    from hub_standin import HubStandIn
    from keras_v2v.presets import publish

    monkeypatch.setenv("KERAS_V2V_ZOO", str(tmp_path / "empty-zoo"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    name = "vmnist-sph2sand-2d-random"
    with HubStandIn() as standin:
        monkeypatch.setenv("HF_ENDPOINT", standin.endpoint)
        folder = tmp_path / "tampered"
        shutil.copytree(os.path.join(ROOT, "zoo", name), folder)
        weights = folder / "model.weights.h5"
        raw = bytearray(weights.read_bytes())
        raw[-100] ^= 0xFF
        weights.write_bytes(bytes(raw))
        spec = json.loads((folder / "keras_v2v.json").read_text())
        spec["sha256"]["model.weights.h5"] = storage.sha256_of(weights)  # the record agrees with the tampering
        (folder / "keras_v2v.json").write_text(json.dumps(spec))
        publish.push_to_hub(str(folder), f"keras-v2v/{name}", token="hf_test", endpoint=standin.endpoint)
        for reference in (f"keras-v2v/{name}", f"hf://keras-v2v/{name}", name):
            with pytest.raises(ValueError, match="the registry records"):
                v2v.from_pretrained(reference)


# ------------------------------------------------------------ exact resume and seeds


def _tiny_recipe(tmp_path, steps, seed=0):
    path = tmp_path / "recipe.toml"
    path.write_text(TINY.replace("steps = 2", f"steps = {steps}").replace("sample_every = 0",
                                                                          f"sample_every = 0\nseed = {seed}"))
    return recipes.load_recipe(path)


def test_a_kill_between_checkpoint_and_progress_resumes_at_the_checkpoint(tmp_path, monkeypatch):
    recipe = _tiny_recipe(tmp_path, steps=4)
    real = resumable.write_json
    calls = []

    def dies_after_second_checkpoint(path, payload, **kwargs):
        calls.append(payload["steps_done"])
        if payload["steps_done"] == 2:
            raise KeyboardInterrupt("killed")  # after checkpoint-0000002.keras is in place
        return real(path, payload, **kwargs)

    monkeypatch.setattr(resumable, "write_json", dies_after_second_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        run.train(recipe, str(tmp_path / "run"), verbose=0, tensorboard=False)
    assert resumable.latest_checkpoint(str(tmp_path / "run"))[1] == 2
    monkeypatch.setattr(resumable, "write_json", real)
    model, progress, _ = run.train(recipe, str(tmp_path / "run"), verbose=0, tensorboard=False)
    assert int(model.optimizer.iterations.numpy()) == 4 and progress["steps_done"] == 4
    assert progress["history_gap"] == [2]
    assert [n for n in os.listdir(tmp_path / "run") if n.endswith(".keras")] == ["checkpoint-0000004.keras"]


def test_two_runs_of_a_recipe_give_identical_weights(tmp_path):
    first, _, _ = run.train(_tiny_recipe(tmp_path, steps=2), str(tmp_path / "a"), verbose=0, tensorboard=False)
    second, _, _ = run.train(_tiny_recipe(tmp_path, steps=2), str(tmp_path / "b"), verbose=0, tensorboard=False)
    for x, y in zip(all_weights(first), all_weights(second)):
        np.testing.assert_array_equal(x, y)
    other, _, _ = run.train(_tiny_recipe(tmp_path, steps=2, seed=1), str(tmp_path / "c"), verbose=0,
                            tensorboard=False)
    assert any(not np.array_equal(x, y) for x, y in zip(all_weights(first), all_weights(other)))


# ------------------------------------------------------------ strict arguments


@pytest.mark.parametrize("argv, message", [
    (["translate", CLIP, "o.mp4", "--model", "m", "--window", "0"], "--window: expected a whole number >= 1"),
    (["translate", CLIP, "o.mp4", "--model", "m", "--batch-size", "-3"], "--batch-size: expected a whole number"),
    (["demo", "--port", "99999"], "--port: expected a port number from 1 to 65535, got 99999"),
    (["evaluate", "--model", "m", "--max-videos", "0"], "--max-videos: expected a whole number >= 1"),
    (["reproduce", "table2", "--steps", "-1"], "--steps: expected a whole number >= 1"),
    (["translate"], "the following arguments are required"),
])
def test_bad_arguments_give_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("override, message", [
    ("training.steps=abc", "[training] steps must be a whole number >= 1, found 'abc'"),
    ("training.steps=-5", "found -5"),
    ("training.gan_loss=wgan", "gan_loss must be one of 'lsgan', 'vanilla'"),
    ("model.norm=batch", "norm must be one of 'clip', 'frame'"),
])
def test_bad_recipe_values_are_refused_with_the_key(recipe_file, override, message, capsys):
    assert cli.main(["train", str(recipe_file), "--set", override]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, message", [
    (["evaluate", "--model", "vmnist-sph2sand-3d", "--budget", "bogus"], "--budget: invalid choice: 'bogus'"),
    (["evaluate", "--model", "vmnist-sph2sand-3d", "--budget", "full"], "--budget: sets the size of a --dataset"),
    (["evaluate", "--model", "vmnist-sph2sand-3d", "--out", "."], "the --out path '.' is the current folder"),
    (["translate", CLIP, "o.mp4", "--model", "vmnist-sph2sand-3d", "--intensity-window", "mr"],
     "--intensity-window: applies to volumes (.nii, .nii.gz) only"),
    (["translate", "v.nii.gz", "o.nii.gz", "--model", "phantom-mr2ct-3d", "--intensity-window", "bone"],
     "--intensity-window: expected one of ct-brain"),
    (["translate", CLIP, "/proc/self/o.mp4", "--model", "m"], "no file can be created in /proc/self (it is a system"),
    (["translate", CLIP, "x" * 300 + ".mp4", "--model", "m"], "is 304 bytes long; this file system allows"),
    (["translate", CLIP, "clip.mp4/o.mp4", "--model", "m"], "clip.mp4 is a file, not a folder"),
    (["train", "recipe.toml", "--set", "training.learning_rate=inf"],
     "[training] learning_rate must be a finite number > 0, found inf"),
])
def test_bad_values_and_unwritable_outputs_are_one_line_before_any_work(argv, message, tmp_path, monkeypatch,
                                                                       capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clip.mp4").write_bytes(b"not really")
    (tmp_path / "recipe.toml").write_text(TINY)
    data.write_nifti(tmp_path / "v.nii.gz", np.zeros((2, 4, 4), np.float32))
    monkeypatch.setattr(cli, "load_backend", lambda: pytest.fail("checked after the backend loaded"))
    try:
        status = cli.main(argv)
    except SystemExit as stop:  # argparse's own refusals
        status = stop.code
    err = capsys.readouterr().err
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4", "recipe.toml", "v.nii.gz"]


def test_evaluate_checks_its_out_folder_before_evaluating(tmp_path, capsys, monkeypatch):
    (tmp_path / "d").mkdir()
    monkeypatch.setattr(cli, "load_backend", lambda: pytest.fail("checked after the backend loaded"))
    assert cli.main(["evaluate", "--model", "vmnist-sph2sand-3d", "--out", str(tmp_path / "d")]) == 2
    assert "expected a file name for the JSON metrics, found a folder" in capsys.readouterr().err


def test_info_checks_the_weights(tmp_path, capsys):
    folder = tmp_path / "tampered"
    shutil.copytree(os.path.join(ROOT, "zoo", "vmnist-sph2sand-2d-random"), folder)
    raw = bytearray((folder / "model.weights.h5").read_bytes())
    raw[-100] ^= 0xFF
    (folder / "model.weights.h5").write_bytes(bytes(raw))
    assert cli.main(["info", str(folder)]) == 2
    captured = capsys.readouterr()
    assert '"sha256"' in captured.out  # what the folder says is still shown
    assert "but keras_v2v.json records" in captured.err and "changed or corrupted" in captured.err


def test_cut_weights_are_called_damaged_not_mismatched(tmp_path):
    folder = tmp_path / "cut"
    shutil.copytree(os.path.join(ROOT, "zoo", "vmnist-sph2sand-2d-random"), folder)
    weights = folder / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    spec = json.loads((folder / "keras_v2v.json").read_text())
    spec["sha256"]["model.weights.h5"] = storage.sha256_of(weights)  # the record agrees: only the file is cut
    (folder / "keras_v2v.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match=r"model.weights.h5 is damaged \(not a readable HDF5 file: .*truncated"):
        storage.load_folder(folder)


@pytest.mark.parametrize("module, name", [("os", "system"), ("keras.layers", "Lambda"), ("builtins", "eval")])
def test_a_config_asking_for_foreign_code_is_refused_by_name(tmp_path, module, name):
    folder = tmp_path / "evil"
    shutil.copytree(os.path.join(ROOT, "zoo", "vmnist-sph2sand-2d-random"), folder)
    config = json.loads((folder / "config.json").read_text())
    config["config"]["generator_a2b"]["config"]["layers"][1].update(module=module, class_name=name)
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=f"asks for {module}.{name}, which no keras-v2v preset holds"):
        storage.load_folder(folder)


def test_a_preset_folder_with_a_broken_record_gives_one_line(tmp_path, capsys):
    folder = tmp_path / "broken"
    shutil.copytree(os.path.join(ROOT, "zoo", "vmnist-sph2sand-3d"), folder)
    (folder / "keras_v2v.json").write_text("[1, 2]")
    assert cli.main(["info", str(folder)]) == 2
    assert "must hold a JSON object" in capsys.readouterr().err


def test_the_demo_rejects_a_crafted_gif_before_decoding(tmp_path):
    from keras_v2v import demo

    bomb = tmp_path / "bomb.gif"
    bomb.write_bytes(gif_claiming(16000, 16000, frames=3))
    with pytest.raises(demo.DemoInputError, match="megapixels"):
        demo.read_clip(str(bomb))
