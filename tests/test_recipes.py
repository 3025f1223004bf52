"""Recipes and `keras-v2v train`: parsing, errors, resume, samples, logs, exported preset."""

import json
import os

import pytest

import keras_v2v as v2v
from keras_v2v import cli, data
from keras_v2v.training import recipes
from keras_v2v.training.resumable import latest_checkpoint, read_progress

TINY = """\
name = "tiny-vmnist-3d"
task = "tiny-vmnist"
method = "3d"
description = "A test recipe."

[dataset]
generator = "volumetric_mnist"
n = 6
depth = 8
size = 16
seed = 0

[model]
clip_length = 8
filters = 2
num_blocks = 1
discriminator_filters = 2
discriminator_layers = 2

[training]
steps = 2
chunk = 2
sample_every = 2
"""


@pytest.fixture
def recipe_file(tmp_path):
    path = tmp_path / "recipe.toml"
    path.write_text(TINY)
    return path


def test_recipe_round_trips_through_toml(recipe_file, tmp_path):
    recipe = recipes.load_recipe(recipe_file)
    assert recipe.lambda_temporal == 0.0 and recipe.model["temporal_stride"] is True
    again = recipes.load_recipe(recipes.save_recipe(recipe, str(tmp_path / "again.toml")))
    assert (again.dataset, again.model, again.training) == (recipe.dataset, recipe.model, recipe.training)
    const = recipe.replace(method="2d-const", model={"filters": 3})
    assert const.lambda_temporal == recipes.CONST_LAMBDA_TEMPORAL and const.model["filters"] == 3
    assert const.replace(training={"lambda_temporal": 0.25}).lambda_temporal == 0.25


@pytest.mark.parametrize("edit, message", [
    (("method = \"3d\"", "method = \"4d\""), "method must be one of"),
    (("generator = \"volumetric_mnist\"", "generator = \"imagenet\""), "generator must be one of"),
    (("chunk = 2", "chunks = 2"), "unknown key\\(s\\) chunks in \\[training\\]"),
    (("chunk = 2", "chunk = 2\nconv_precision = \"half\""), "conv_precision must be one of"),
    (("name = ", "nom = "), "missing name"),
    (("[model]", "[model"), "not valid TOML"),
])
def test_bad_recipes_name_the_file_and_the_key(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(TINY.replace(*edit))
    with pytest.raises(recipes.RecipeError, match=message) as error:
        recipes.load_recipe(path)
    assert str(path) in str(error.value)
    assert cli.main(["train", str(path)]) == 2


def test_train_writes_checkpoints_samples_logs_and_a_preset_then_resumes(recipe_file, tmp_path, capsys):
    run, out = tmp_path / "run", tmp_path / "preset"
    args = ["train", str(recipe_file), "--run-dir", str(run), "--out", str(out), "--quiet"]
    assert cli.main(args) == 0
    assert read_progress(str(run))["steps_done"] == 2
    assert latest_checkpoint(str(run))[1] == 2 and (run / "recipe.toml").exists()
    sample = data.read_video(str(run / "samples" / "step-0000002.gif"))
    assert sample.shape[0] == 8 and sample.shape[2] > 3 * 16  # input | a2b | cycle
    assert any(f.startswith("events.out.tfevents") for _, _, files in os.walk(run / "logs") for f in files)
    spec = json.loads((out / "keras_v2v.json").read_text())
    assert spec["name"] == "tiny-vmnist-3d" and spec["training"]["steps"] == 2
    assert "L" in spec["evaluation"]["metrics"] and "| L |" in (out / "README.md").read_text()
    assert (out / "recipe.toml").read_text() == TINY
    model = v2v.from_pretrained(str(out))
    assert model.translate(data.volumetric_mnist(n=1, depth=8, size=16).a[0]).shape == (8, 16, 16, 1)
    # More steps continue the same run; a changed recipe is refused in that run folder.
    assert cli.main(args + ["--set", "training.steps=4"]) == 0
    assert read_progress(str(run))["steps_done"] == 4
    capsys.readouterr()
    assert cli.main(args + ["--set", "model.filters=3"]) == 2
    assert "different recipe" in capsys.readouterr().err


def test_a_run_folder_without_a_checkpoint_takes_the_corrected_recipe(recipe_file, tmp_path):
    # A start refused after the folder was made (bad data root, say) must not block the corrected
    # command; once a checkpoint exists, a different recipe is refused.
    run = str(tmp_path / "run")
    recipe = recipes.load_recipe(recipe_file)
    assert recipes.check_run_dir(recipe, run) is None
    corrected = recipe.replace(model={"filters": 3})
    notice = recipes.check_run_dir(corrected, run)
    assert "(model)" in notice and "holds no checkpoint yet" in notice
    assert recipes.load_recipe(os.path.join(run, "recipe.toml")).model["filters"] == 3
    with open(os.path.join(run, "checkpoint-0000001.keras"), "wb"):
        pass
    with pytest.raises(recipes.RecipeError, match=r"different recipe \(model differ"):
        recipes.check_run_dir(recipe, run)
    # Where the data lives is not part of the run: moved data resumes, and the record follows it.
    moved = corrected.replace(dataset={"root": "/data/moved"})
    assert recipes.check_run_dir(moved, run) is None
    assert recipes.load_recipe(os.path.join(run, "recipe.toml")).dataset["root"] == "/data/moved"


def test_a_users_own_recipe_toml_is_never_replaced(recipe_file, tmp_path):
    # A folder holding only the user's recipe.toml looks like a run that never started,
    # but keras-v2v did not record it: a different recipe is refused and the file kept.
    folder = tmp_path / "mine"
    folder.mkdir()
    recipe = recipes.load_recipe(recipe_file)
    mine = recipe.replace(model={"filters": 3})
    recipes.save_recipe(mine, str(folder / "recipe.toml"))
    before = (folder / "recipe.toml").read_bytes()
    with pytest.raises(recipes.RecipeError, match="different recipe"):
        recipes.check_run_dir(recipe, str(folder))
    # Nor is it rewritten when only the data root differs.
    recipes.check_run_dir(mine.replace(dataset={"root": "/data/elsewhere"}), str(folder))
    assert (folder / "recipe.toml").read_bytes() == before
    with pytest.raises(recipes.RecipeError, match="--run-dir is empty"):
        recipes.check_run_dir(recipe, "")


def test_a_wrong_data_root_does_not_block_the_corrected_command(tmp_path, capsys):
    recipe = os.path.join(os.path.dirname(os.path.dirname(__file__)), "zoo", "gta-seg2rgb-3d", "recipe.toml")
    run = str(tmp_path / "run")
    assert cli.main(["train", recipe, "--data-root", str(tmp_path / "missing"), "--run-dir", run]) == 2
    assert "is not a folder" in capsys.readouterr().err
    (tmp_path / "viper").mkdir()
    assert cli.main(["train", recipe, "--data-root", str(tmp_path / "viper"), "--run-dir", run]) == 2
    error = capsys.readouterr().err
    assert "different recipe" not in error and "viper" in error  # now about what the folder lacks


def test_set_overrides_must_name_a_section(recipe_file, capsys):
    assert cli.main(["train", str(recipe_file), "--set", "steps=4"]) == 2
    assert "SECTION.KEY=VALUE" in capsys.readouterr().err


def test_gta_recipe_without_data_says_where_to_point_it(tmp_path, capsys):
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "zoo", "gta-seg2rgb-3d")
    assert cli.main(["train", os.path.join(root, "recipe.toml"), "--run-dir", str(tmp_path / "r")]) == 2
    assert "--data-root" in capsys.readouterr().err


def test_a_saved_recipe_reads_back_whatever_its_strings_hold(recipe_file, tmp_path):
    recipe = recipes.load_recipe(recipe_file).replace(description='two\nlines, a "quote", a \\ and a\ttab')
    recipe = recipe.replace(training={"crop_size": (8, 8)})
    again = recipes.load_recipe(recipes.save_recipe(recipe, str(tmp_path / "again.toml")))
    assert again.description == recipe.description and again.training["crop_size"] == [8, 8]
