"""A recipe on two folders of the user's own clips ([dataset] generator = "folders"), started from a preset."""

import json

import numpy as np
import pytest

import keras_v2v as v2v
from keras_v2v import cli, data
from keras_v2v.presets import storage
from keras_v2v.training import pipeline, recipes

from helpers import tiny_2d

RECIPE = """\
name = "my-video"
task = "my-task"
method = "3d"

[dataset]
generator = "folders"
a = "{a}"
b = "{b}"
size = [16, 16]
domains = ["horse", "zebra"]

[model]
init_from = "{preset}"
clip_length = 4

[training]
steps = 1
chunk = 1
lambda_warp = 1.0
pool_size = 2
sample_every = 1
"""


@pytest.fixture
def user_data(tmp_path):
    """A 2D preset with critics (as `convert --discriminators fresh` writes), and two folders of clips:
    A holds mp4 files of 20x24, B one folder of PNG frames per video, 24x20."""
    rng = np.random.default_rng(0)
    tiny_2d(size=16, channels=3).save_pretrained(str(tmp_path / "preset"))
    (tmp_path / "a").mkdir()
    for k in range(2):
        data.write_video(str(tmp_path / "a" / f"clip{k}.mp4"), rng.integers(0, 256, (6, 20, 24, 3), "uint8"), fps=8)
        data.write_video(str(tmp_path / "b" / f"video{k}"), rng.integers(0, 256, (6, 24, 20, 3), "uint8"))
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(RECIPE.format(a=tmp_path / "a", b=tmp_path / "b", preset=tmp_path / "preset"))
    return recipe


def test_train_fine_tunes_a_preset_on_two_user_folders_without_held_out_metrics(user_data, tmp_path, capsys):
    out = tmp_path / "video"
    args = ["train", str(user_data), "--run-dir", str(tmp_path / "run"), "--out", str(out), "--quiet",
            "--no-tensorboard"]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "held-out metrics" not in printed and f"wrote preset {out}" in printed
    spec = json.loads((out / "keras_v2v.json").read_text())
    assert "evaluation" not in spec and "FILL IN" in spec["data_licence"]
    model = v2v.from_pretrained(str(out))
    # Inflated from the 2D preset, trained at the recipe's size on clips resized from both folders.
    assert model.rank == 3 and model.sample_shape == (4, 16, 16, 3)
    sample = data.read_video(str(tmp_path / "run" / "samples" / "step-0000001.gif"))
    at_16 = data.side_by_side(*[np.zeros((4, 16, 16, 3), "uint8")] * 3, labels=["input", "a2b", "cycle"])
    assert sample.shape[1:3] == at_16.shape[1:3]  # the sample clip is resized too
    # No paired ground truth to score against: evaluate says so in one line.
    assert cli.main(["evaluate", "--model", str(out)]) == 2
    assert "no held-out paired split" in capsys.readouterr().err


def test_folder_recipes_refuse_missing_folders_unknown_keys_and_critic_less_presets(user_data, tmp_path):
    recipe = recipes.load_recipe(user_data)
    missing = recipe.replace(dataset={"a": str(tmp_path / "nowhere")})
    with pytest.raises(recipes.RecipeError, match="\\[dataset\\] a = .*nowhere.* is not a file or folder"):
        pipeline.load_data(missing)
    with pytest.raises(recipes.RecipeError, match="unknown \\[dataset\\] key\\(s\\) split"):
        pipeline.load_data(recipe.replace(dataset={"split": 0.5}))
    recipe_data = pipeline.load_data(recipe)
    assert recipe_data.test is None and recipe_data.resize == (16, 16) and recipe_data.domains == ("horse", "zebra")
    # A converted preset written without --discriminators fresh translates, but cannot be trained.
    storage.save_pretrained(v2v.from_pretrained(str(tmp_path / "preset"), discriminators=False),
                            str(tmp_path / "bare"), allow_generators_only=True)
    bare = recipe.replace(model={"init_from": str(tmp_path / "bare")})
    with pytest.raises(recipes.RecipeError, match="no discriminators .* --discriminators fresh"):
        pipeline.build_model(bare, recipe_data)
