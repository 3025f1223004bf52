"""Motion-aware temporal metrics, trivial baselines, the warping loss and its flows."""

import keras
import numpy as np
import pytest

import keras_v2v as v2v
from keras_v2v import data
from keras_v2v.utils.flow import flow_pairs, opencv, warp_frame
from keras_v2v.evaluation import baselines, motion
from keras_v2v.models import losses

from helpers import tiny_3d


def _moving_square(frames=6, size=32, step=2, colour=(1.0, 1.0, 1.0)):
    """A bright textured square moving right by `step` px a frame on a dark background, in [0, 1]."""
    rng = np.random.default_rng(0)
    texture = rng.uniform(0.5, 1.0, (10, 10, 1)) * np.asarray(colour)
    video = np.zeros((frames, size, size, 3))
    for t in range(frames):
        video[t, 11:21, 4 + step * t:14 + step * t] = texture
    return video.astype(np.float32)


def test_flow_finds_a_known_translation():
    video = _moving_square(step=2)
    flows, masks = flow_pairs(video)
    assert flows.shape == (5, 32, 32, 2) and masks.shape == (5, 32, 32)
    # Inside the square, frame t+1 maps back 2 px to the left in frame t.
    inside = flows[:, 13:19, 9:14]
    assert np.allclose(np.median(inside[..., 0]), -2.0, atol=0.3)
    assert np.allclose(np.median(inside[..., 1]), 0.0, atol=0.3)


def test_warping_error_tells_a_following_output_from_a_still_one():
    video = _moving_square()
    recoloured = video * np.array([1.0, 0.3, 0.2], np.float32)  # a translation that follows the motion
    frozen = baselines.frozen_first_frame(recoloured)
    follows = motion.evaluate_motion(recoloured, video, truth=recoloured)
    still = motion.evaluate_motion(frozen, video, truth=recoloured)
    assert follows["warping_error"] < 0.2 * follows["unwarped_error"]
    assert follows["motion_corr"] > 0.95 and follows["tof"] == pytest.approx(0.0, abs=1e-6)
    # A still output changes nothing (unwarped 0) but warping along the input's motion exposes it.
    assert still["unwarped_error"] == 0.0 and still["warping_error"] > follows["warping_error"]
    assert still["motion_corr"] == 0.0 and still["motion_ratio"] == 0.0 and still["tof"] > 0.5
    assert 0.2 < follows["motion_ratio"] < 1.0


def test_motion_metrics_check_their_inputs():
    video = _moving_square()
    with pytest.raises(ValueError, match="same videos, frames and frame size"):
        motion.warping_error(video[:4], video)
    with pytest.raises(ValueError, match="at least 2 frames"):
        motion.motion_ratio(video[:1], video[:1])
    assert np.isnan(motion.motion_correlation(video, baselines.frozen_first_frame(video)))  # nothing to follow


def test_baselines():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (2, 3, 4, 5, 1), dtype=np.uint8)
    assert baselines.copy_input(grey, 3).shape == (2, 3, 4, 5, 3)
    assert baselines.copy_input(np.repeat(grey, 3, -1), 1).shape == grey.shape
    np.testing.assert_array_equal(baselines.frozen_first_frame(grey)[:, 2], grey[:, 0])
    palette = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0]], np.uint8)
    classes = np.zeros((3, 4, 2, 2), np.int64)
    classes[:2, :, 0, 0] = 1  # pixel (0, 0) is mostly class 1
    classes[:, :, 1, 1] = 2
    prior = baselines.class_prior(palette[classes], palette)
    assert prior.tolist() == [[1, 0], [0, 2]]
    videos = baselines.class_prior_videos(prior, palette, 2, 5)
    assert videos.shape == (2, 5, 2, 2, 3) and (videos[1, 4, 1, 1] == [0, 255, 0]).all()


def test_warp_op_matches_opencv_and_warp_loss_is_zero_along_the_flow():
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 1, (2, 9, 11, 3)).astype("float32")
    flow = rng.uniform(-2, 2, (2, 9, 11, 2)).astype("float32")
    expected = np.stack([warp_frame(opencv(), images[i], flow[i]) for i in range(2)])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(losses.warp(images, flow)), expected, atol=1e-5)
    video = _moving_square()[None] * 2 - 1
    flows, masks = flow_pairs((video[0] + 1) / 2)
    loss = losses.warp_loss(video, flows[None], masks[None, ..., None].astype("float32"))
    frozen = np.repeat(video[:, :1], 6, axis=1)
    frozen_loss = losses.warp_loss(frozen, flows[None], masks[None, ..., None].astype("float32"))
    assert float(loss) < 0.02 < float(frozen_loss)


def test_clip_batches_carry_flows_and_train_the_warping_loss():
    moving = data.coloured_moving_mnist(n=4, frames=6, size=32, seed=1)
    batches = data.UnpairedVideoDataset(moving.a, moving.b, mode="clips", batch_size=1, clip_length=4,
                                        flows=True, steps_per_epoch=2)
    item = batches[0]
    assert item["flow_a"].shape == (1, 3, 32, 32, 2) and item["mask_b"].shape == (1, 3, 32, 32, 1)
    model = tiny_3d(depth=4, size=32, channels=3)
    model.compile(lambda_warp=1.0, pool_size=0)
    history = model.fit(batches, epochs=1, verbose=0)
    assert history.history["warp_loss"][0] > 0
    with pytest.raises(ValueError, match="flows=True needs mode='clips'"):
        data.UnpairedVideoDataset(moving.a, moving.b, mode="random", flows=True)
    plain = tiny_3d(depth=4, size=32, channels=3)
    plain.compile(lambda_warp=1.0)
    pairs = data.UnpairedVideoDataset(moving.a, moving.b, mode="clips", clip_length=4, steps_per_epoch=1)
    with pytest.raises(ValueError, match="needs a 3D model and batches carrying the input flows"):
        plain.fit(pairs, epochs=1, verbose=0)


def test_a_recipe_starts_a_3d_model_from_a_2d_preset(tmp_path):
    import dataclasses

    from keras_v2v.training import pipeline, recipes

    base = v2v.cyclegan_2d((32, 32, 3), filters=2, num_blocks=1, discriminator_filters=2,
                           discriminator_layers=2, domains=("white", "coloured"))
    base.save_pretrained(str(tmp_path / "base"))
    recipe = recipes.Recipe(
        name="tiny-inflated", task="mnist-colorize", method="3d",
        dataset=dict(generator="coloured_moving_mnist", n=6, frames=6, size=32, seed=0),
        model=dict(clip_length=4, init_from=str(tmp_path / "base")),
        training=dict(steps=2, chunk=1, lambda_warp=1.0, pool_size=2),
        export={})
    recipe_data = pipeline.load_data(recipe)
    model = pipeline.compile_model(pipeline.build_model(recipe, recipe_data), recipe)
    assert model.rank == 3 and model.sample_shape == (4, 32, 32, 3)
    clip = np.random.default_rng(0).uniform(-1, 1, (1, 4, 32, 32, 3)).astype("float32")
    framewise = keras.ops.convert_to_numpy(base.generator_a2b(clip[0]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.generator_a2b(clip))[0], framewise, atol=2e-5)
    history = model.fit(pipeline.batches(recipe, recipe_data), epochs=1, verbose=0)
    assert history.history["warp_loss"][0] > 0
    grey = dataclasses.replace(recipe, dataset=dict(generator="volumetric_mnist", n=6, depth=6, size=32, seed=0))
    with pytest.raises(recipes.RecipeError, match="init_from .* translates 3 -> 3 channels, but the recipe's data has 1 -> 1"):
        pipeline.build_model(grey, pipeline.load_data(grey))


def test_a_recipe_started_from_a_preset_takes_its_architecture_from_it(tmp_path):
    from keras_v2v.training import recipes

    text = ('name = "x"\ntask = "mnist-colorize"\nmethod = "3d"\n[dataset]\ngenerator = "coloured_moving_mnist"\n'
            '[model]\ninit_from = "mnist-colorize-2d-random"\nfilters = 8\n')
    (tmp_path / "clash.toml").write_text(text)
    with pytest.raises(recipes.RecipeError, match="brings its own architecture; remove filters"):
        recipes.load_recipe(tmp_path / "clash.toml")
    (tmp_path / "ok.toml").write_text(text.replace("filters = 8\n", "clip_length = 4\n"))
    recipe = recipes.load_recipe(tmp_path / "ok.toml")
    saved = recipe.to_toml()
    assert 'init_from = "mnist-colorize-2d-random"' in saved and "filters" not in saved
    recipes.save_recipe(recipe, tmp_path / "again.toml")
    assert recipes.load_recipe(tmp_path / "again.toml").model == recipe.model


def test_motion_table_scores_models_beside_the_baselines_on_new_clips():
    from keras_v2v.training import motion_table

    table = motion_table.rows("vmnist-sph2sand", ["vmnist-sph2sand-2d-random"], seed=777, videos=2)
    rows = table["rows"]
    assert list(rows) == ["truth (floor)", "copy input", "frozen truth frame", "vmnist-sph2sand-2d-random"]
    assert rows["truth (floor)"]["L"] == 0 and rows["truth (floor)"]["tof"] == 0
    assert rows["frozen truth frame"]["motion_ratio"] == 0
    model = rows["vmnist-sph2sand-2d-random"]
    lo, hi = model["L_ci95"]
    assert lo <= model["L"] <= hi and model["generator_parameters"] > 0
    assert "| vmnist-sph2sand-2d-random |" in motion_table.markdown(table)
