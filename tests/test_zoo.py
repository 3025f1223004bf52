"""The model zoo: registry, bundled presets, name resolution, recipes and the train command."""

import json
import os
import shutil

import numpy as np
import pytest

import keras_v2v as v2v
from keras_v2v import cli, data
from keras_v2v import evaluation, presets
from keras_v2v.evaluation import scoring
from keras_v2v.presets import storage
from keras_v2v.training import pipeline, recipes, zoo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO = os.path.join(ROOT, "zoo")
BUNDLED = sorted(n for n, e in presets.load_registry().items() if not e["recipe_only"])
ISSUE_PRESETS = {
    "vmnist-sph2sand-3d", "vmnist-sph2sand-2d-random", "vmnist-sph2sand-2d-sequential", "vmnist-sph2sand-2d-const",
    "mnist-colorize-3d", "mnist-colorize-2d-random", "mnist-colorize-2d-sequential", "mnist-colorize-2d-const",
    "street-seg2rgb-3d", "street-seg2rgb-2d-random", "phantom-mr2ct-3d",
}


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No Hub: offline mode and an empty Hugging Face cache."""
    import huggingface_hub.constants as constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return tmp_path


def test_registry_is_in_step_with_the_zoo_folders():
    assert zoo.registry_from_zoo(ZOO) == presets.load_registry(), "run `python zoo/sync_registry.py`"


def test_every_preset_the_zoo_promises_is_bundled_small_and_documented():
    assert ISSUE_PRESETS <= set(BUNDLED)
    for name in BUNDLED:
        folder = os.path.join(ZOO, name)
        size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)
                   if os.path.isfile(os.path.join(folder, f)))
        assert size <= 10 * 2**20, f"{name} is {size:,} bytes"
        card = open(os.path.join(folder, "README.md")).read()
        assert card.startswith("---\nlibrary_name: keras\n")
        spec = storage.read_preset_spec(folder)
        headline = spec["evaluation"]["headline"]
        # The card carries the number `keras-v2v evaluate` measured.
        assert f"| {headline['name']} | {headline['value']:.4f} |" in card
        assert spec["weights_dtype"] == "float16" and os.path.exists(os.path.join(folder, "LICENSE-DATA.md"))
        assert recipes.load_recipe(os.path.join(folder, "recipe.toml")).name == name


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_preset_loads_offline_and_translates_its_sample_clip(name, offline, tmp_path):
    entry = {row["name"]: row for row in v2v.list_pretrained()}[name]
    assert entry["weights"] == "bundled" and entry["sample_clip"], entry
    out = tmp_path / "out.mp4"
    assert cli.main(["translate", entry["sample_clip"], str(out), "--model", name, "--quiet"]) == 0
    clip = data.read_video(entry["sample_clip"])
    translated = data.read_video(str(out))
    assert translated.shape[:3] == clip.shape[:3]
    assert translated.std() > 1.0  # not a blank frame


def test_zoo_recipes_are_the_ones_reproduce_trains():
    from keras_v2v.training import reproduce

    from keras_v2v.training import ablations

    def sections(recipe):
        training = {k: v for k, v in recipe.training.items() if k != "sample_every"}
        model = recipe.model
        if model["init_from"]:
            # A model started from a preset takes its architecture (and its steps are the run's) from there.
            model = {k: v for k, v in model.items() if k not in recipes.ARCHITECTURE_KEYS}
            training.pop("steps")
        return recipe.method, recipe.dataset, model, training

    for task, table, methods in (("vmnist-sph2sand", "table2", reproduce.METHODS),
                                 ("mnist-colorize", "table1", reproduce.METHODS),
                                 ("street-seg2rgb", "table4", ("3d", "2d-random"))):
        for method in methods:
            zoo_recipe = recipes.load_recipe(os.path.join(ZOO, f"{task}-{method}", "recipe.toml"))
            # The 3D presets, their 2D-random siblings and all vmnist baselines are the medium runs;
            # the other mnist-colorize baselines quick.
            budget = "medium" if method in ("3d", "2d-random") or task == "vmnist-sph2sand" else "quick"
            expected = reproduce.recipe_for(table, budget, method)
            if zoo_recipe.model["init_from"]:
                # The retrained 3D presets: the ablation started from the bundled 2D-random sibling.
                expected = ablations.variant_recipe(table, budget, "inflated, warp loss 10")
                assert zoo_recipe.model["init_from"] == f"{task}-2d-random", task
            assert sections(zoo_recipe) == sections(expected), (task, method)


@pytest.mark.slow
def test_3d_vmnist_preset_beats_the_2d_random_preset_on_held_out_volumes():
    recipe = recipes.load_recipe(os.path.join(ZOO, "vmnist-sph2sand-3d", "recipe.toml"))
    test = pipeline.load_data(recipe).test
    scores = {}
    for name in ("vmnist-sph2sand-3d", "vmnist-sph2sand-2d-random"):
        model = v2v.from_pretrained(name, discriminators=False)
        scores[name] = evaluation.evaluate(model, "volumetric_mnist", test, max_videos=20)["metrics"]["L"]
    # Measured on all 60 held-out volumes (medium presets): 16.8 vs 71.7 (0-255 units).
    assert scores["vmnist-sph2sand-3d"] < 0.5 * scores["vmnist-sph2sand-2d-random"], scores
    assert scores["vmnist-sph2sand-3d"] < 30, scores


def test_inference_only_loading_skips_the_discriminators():
    full = v2v.from_pretrained("vmnist-sph2sand-3d")
    lite = v2v.from_pretrained("vmnist-sph2sand-3d", discriminators=False)
    assert lite.count_params() == sum(g.count_params() for g in full.generators) < full.count_params()
    clip = data.read_video(os.path.join(ROOT, "examples/media/vmnist_spherical.mp4"))[..., :1]
    np.testing.assert_array_equal(lite.translate(clip), full.translate(clip))
    with pytest.raises(ValueError, match="no discriminators"):
        lite.compile()


def test_unknown_name_suggests_close_names():
    with pytest.raises(presets.PresetNotFoundError, match="vmnist-sph2sand-3d"):
        v2v.from_pretrained("vmnist-sph2sand3d")
    assert cli.main(["translate", "x.mp4", "y.mp4", "--model", "mnist-colourize-3d"]) == 2


def test_recipe_only_preset_explains_how_to_train_it():
    with pytest.raises(presets.PresetNotFoundError, match="recipe only") as error:
        v2v.from_pretrained("gta-seg2rgb-3d")
    assert "keras-v2v train zoo/gta-seg2rgb-3d/recipe.toml" in str(error.value)
    assert "keras-v2v publish" in str(error.value)
    row = {r["name"]: r for r in v2v.list_pretrained()}["gta-seg2rgb-3d"]
    assert row["weights"] == "recipe only" and row["input_shape"] == [8, 108, 192, 3]


def test_offline_miss_says_how_to_get_the_weights(offline, monkeypatch):
    monkeypatch.setenv("KERAS_V2V_ZOO", str(offline / "empty-zoo"))
    with pytest.raises(presets.PresetNotFoundError, match="HF_HUB_OFFLINE") as error:
        v2v.from_pretrained("vmnist-sph2sand-3d")
    assert "keras-v2v train zoo/vmnist-sph2sand-3d/recipe.toml" in str(error.value)
    with pytest.raises(presets.PresetNotFoundError, match="HF_HUB_OFFLINE"):
        v2v.from_pretrained("someone/some-preset")
    row = {r["name"]: r for r in v2v.list_pretrained()}["vmnist-sph2sand-3d"]
    assert row["weights"] == "hub"


def test_tampered_bundled_weights_are_refused(tmp_path, monkeypatch):
    zoo = tmp_path / "zoo"
    shutil.copytree(os.path.join(ZOO, "vmnist-sph2sand-3d"), zoo / "vmnist-sph2sand-3d")
    monkeypatch.setenv("KERAS_V2V_ZOO", str(zoo))
    weights = zoo / "vmnist-sph2sand-3d" / storage.WEIGHTS_FILE
    raw = bytearray(weights.read_bytes())
    raw[-64] ^= 0x01
    weights.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="sha256"):
        v2v.from_pretrained("vmnist-sph2sand-3d")


def test_hub_download_then_cache_then_offline(tmp_path, monkeypatch):
    """Through a local stand-in of the Hub API (not the real Hub): download, verify, reuse offline."""
    import huggingface_hub.constants as constants

    from hub_standin import HubStandIn
    from keras_v2v.presets import publish

    monkeypatch.setenv("KERAS_V2V_ZOO", str(tmp_path / "empty-zoo"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    with HubStandIn() as standin:
        monkeypatch.setenv("HF_ENDPOINT", standin.endpoint)
        publish.push_to_hub(os.path.join(ZOO, "vmnist-sph2sand-3d"), "keras-v2v/vmnist-sph2sand-3d",
                            token="hf_test", endpoint=standin.endpoint)
        downloaded = v2v.from_pretrained("vmnist-sph2sand-3d", discriminators=False)
    assert {r["name"]: r for r in v2v.list_pretrained()}["vmnist-sph2sand-3d"]["weights"] == "cached"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    cached = v2v.from_pretrained("vmnist-sph2sand-3d", discriminators=False)
    bundled = storage.load_folder(os.path.join(ZOO, "vmnist-sph2sand-3d"), discriminators=False)
    for x, y, z in zip(downloaded.weights, cached.weights, bundled.weights):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(z))
        np.testing.assert_array_equal(np.asarray(y), np.asarray(z))


def test_list_command_shows_every_preset(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ISSUE_PRESETS | {"gta-seg2rgb-3d"}:
        assert name in out
    assert "recipe only" in out and "bundled" in out
    assert cli.main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= ISSUE_PRESETS


def test_evaluate_a_bundled_preset_on_its_recipe_split(tmp_path, capsys):
    out = tmp_path / "scores.json"
    assert cli.main(["evaluate", "--model", "phantom-mr2ct-3d", "--max-videos", "3", "--out", str(out)]) == 0
    scores = json.loads(out.read_text())
    assert scores["videos"] == 3 and scores["headline"]["name"] == "L"
    # Translating MR to CT must beat copying the MR volume (the untranslated baseline).
    recipe = recipes.load_recipe(os.path.join(ZOO, "phantom-mr2ct-3d", "recipe.toml"))
    test = pipeline.load_data(recipe).test
    copied = evaluation.score("head_phantoms", test.a[:3], scoring._take(test, 3))
    assert scores["metrics"]["L"] < copied["L"]


def test_demo_serves_the_bundled_zoo_with_its_baselines(tmp_path):
    from keras_v2v import demo

    available = demo.bundled_presets()
    assert ISSUE_PRESETS <= set(available)
    # The page opens on the README's main job; the other 3D presets follow, then the 2D baselines.
    names = list(available)
    assert names[0] == demo.DEFAULT_PRESET == "vmnist-sph2sand-3d"
    methods = [available[n].method for n in names]
    assert methods == sorted(methods, key=lambda m: m != "3d") and methods.count("3d") >= 3
    clip = os.path.join(ROOT, "examples/media/vmnist_spherical.mp4")
    result = demo.translate_clip(clip, "vmnist-sph2sand-3d", presets=available, out_dir=str(tmp_path))
    assert data.read_video(result.video).shape[:3] == (16, 64, 64)
    # The 3D preset is compared with its framewise "random" baseline in the plot.
    assert len(result.curves) == 3 and all(len(c) == 15 for c in result.curves.values())


@pytest.mark.parametrize("verb", ["list", "translate", "train", "evaluate", "reproduce", "publish", "demo", "info"])
def test_every_verb_has_help(verb, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([verb, "--help"])
    assert exit_.value.code == 0 and "usage: keras-v2v " + verb in capsys.readouterr().out


def test_config_and_weights_that_do_not_match_are_one_clear_error(tmp_path, capsys):
    folder = tmp_path / "mixed"
    shutil.copytree(os.path.join(ZOO, "vmnist-sph2sand-3d"), folder)
    shutil.copy(os.path.join(ZOO, "mnist-colorize-3d", "config.json"), folder / "config.json")
    with pytest.raises(ValueError, match="config.json and model.weights.h5 .* do not match"):
        v2v.from_pretrained(str(folder))
    assert cli.main(["info", str(folder)]) == 0  # the spec still reads
    capsys.readouterr()
    assert cli.main(["translate", os.path.join(ROOT, "examples/media/vmnist_spherical.mp4"), str(tmp_path / "o.mp4"),
                     "--model", str(folder), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "do not match" in err and len(err.strip().splitlines()) == 1


def test_a_bundled_preset_named_by_its_hub_repo_loads_offline(offline):
    for name in ("hf://keras-v2v/vmnist-sph2sand-3d", "keras-v2v/vmnist-sph2sand-3d"):
        folder, expected, _ = presets.resolve(name)
        assert os.path.samefile(folder, os.path.join(ZOO, "vmnist-sph2sand-3d"))
        assert expected == presets.load_registry()["vmnist-sph2sand-3d"]["sha256"]
    assert v2v.from_pretrained("hf://keras-v2v/vmnist-sph2sand-3d", discriminators=False).name == "vmnist-sph2sand-3d"
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        assert "KERAS_V2V_ZOO" in handle.read()  # where the bundled zoo is looked for, and how to move it


def test_keras_v2v_json_has_one_format_that_refresh_metadata_keeps(tmp_path):
    # zoo/refresh_metadata.py writes it this way; save_pretrained must too, or a clean clone changes.
    for name in BUNDLED:
        with open(os.path.join(ZOO, name, storage.PRESET_FILE)) as handle:
            text = handle.read()
        assert text == storage.json_text(json.loads(text)), name
    folder = v2v.from_pretrained("vmnist-sph2sand-2d-random").save_pretrained(str(tmp_path / "copy"))
    with open(os.path.join(folder, storage.PRESET_FILE)) as handle:
        text = handle.read()
    assert text == storage.json_text(json.loads(text))
