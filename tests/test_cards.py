"""Preset metadata: Hub model cards, network parameter counts, domain names, generators-only presets."""

import json
import os
import shutil
import warnings

import pytest
from helpers import card_round_trip, tiny_3d

import keras_v2v as v2v
from keras_v2v import cli
from keras_v2v.presets import cards, publish, registry, storage
from keras_v2v.presets.spec import NETWORKS, parameter_counts
from keras_v2v.training import recipes, zoo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO = os.path.join(ROOT, "zoo")
TRAINED = sorted(n for n in os.listdir(ZOO) if os.path.isfile(os.path.join(ZOO, n, storage.PRESET_FILE)))
EVALUATION = {
    "metrics": {"L": 19.048037772681315, "sigma": 2.5, "gt_intensity_mean": 103.1, "num_volumes": 60.0,
                "videos_bad": float("nan")},
    "headline": {"name": "L", "value": 19.048037772681315, "lower_is_better": True, "describe": "255 x RMSE"},
    "videos": 60, "command": "keras-v2v evaluate --model x",
}


@pytest.fixture(scope="module")
def model():
    return tiny_3d()


# ----------------------------------------------------------------- cards


@pytest.mark.parametrize("name", TRAINED)
def test_every_zoo_card_loads_as_the_hub_loads_it(name):
    folder = os.path.join(ZOO, name)
    spec = storage.read_preset_spec(folder)
    metadata, model_name, results = card_round_trip(os.path.join(folder, "README.md"))
    assert metadata["library_name"] == "keras" and metadata["pipeline_tag"] == "video-to-video"
    assert model_name == name
    expected = cards.card_metrics(spec["evaluation"]["metrics"], spec["evaluation"]["headline"]["name"])
    assert [r.metric_type for r in results] == list(expected)  # headline first, then as measured
    for result in results:
        assert result.task_type == "video-to-video" and result.task_name == spec["task"]
        assert result.metric_value == pytest.approx(expected[result.metric_type], rel=1e-5)
        assert not result.metric_type.startswith(("gt_", "num_"))
    # The card is what the card code writes from keras_v2v.json (zoo/refresh_metadata.py was run).
    with open(os.path.join(folder, "README.md"), encoding="utf-8") as handle:
        assert handle.read() == cards.card_from_spec(spec)


@pytest.mark.parametrize("name", TRAINED)
def test_every_zoo_cards_python_snippet_runs_on_a_video_file(name, tmp_path, monkeypatch):
    import re

    import numpy as np

    from keras_v2v import data

    with open(os.path.join(ZOO, name, "README.md"), encoding="utf-8") as handle:
        snippet = re.search(r"```python\n(.*?)```", handle.read(), re.S).group(1)
    assert 'read_video("in.mp4")' in snippet
    # A video file is RGB whatever the preset's domains are (grey presets convert it).
    rng = np.random.default_rng(0)
    data.write_video(str(tmp_path / "in.mp4"), rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8), fps=8)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(snippet, f"zoo/{name}/README.md", "exec"), scope)
    spec = storage.read_preset_spec(os.path.join(ZOO, name))
    assert scope["out"].shape == (8, 32, 32, spec["channels"]["b"]) and scope["out"].dtype == np.uint8


@pytest.mark.parametrize("name", ["my model: v2", "yes", "null", "[wip] seg2rgb", "#1 model", 'say "hi"', "3.10"])
def test_awkward_names_write_cards_that_round_trip(model, tmp_path, name):
    folder = tmp_path / "preset"
    model.save_pretrained(folder, metadata={"name": name, "task": "[wip] seg2rgb", "evaluation": EVALUATION})
    metadata, model_name, results = card_round_trip(folder / "README.md")
    assert model_name == name and isinstance(model_name, str)
    assert {r.task_name for r in results} == {"[wip] seg2rgb"}
    # save_pretrained(metadata=...) files the evaluation in the card: real metrics only, headline first.
    assert [(r.metric_type, r.metric_value) for r in results] == [("L", 19.048), ("sigma", 2.5)]
    assert "| L | 19.0480 |" in (folder / "README.md").read_text()
    spec = json.loads((folder / storage.PRESET_FILE).read_text())
    assert spec["evaluation"]["metrics"]["gt_intensity_mean"] == 103.1  # kept where it belongs


def test_a_card_without_evaluation_has_no_model_index(model, tmp_path):
    model.save_pretrained(tmp_path / "p")
    metadata, model_name, results = card_round_trip(tmp_path / "p" / "README.md")
    assert "model-index" not in metadata and metadata["pipeline_tag"] == "video-to-video"
    assert "- parameters:" in (tmp_path / "p" / "README.md").read_text()


@pytest.mark.parametrize("key, value", [
    ("name", "my model: v2"), ("name", "a--b"), ("name", "-start"), ("name", "end."), ("name", "x" * 97),
    ("task", "[wip] seg2rgb"), ("task", "a..b"), ("task", "x.git"),
])
def test_recipe_name_and_task_must_be_hub_repo_names(tmp_path, capsys, key, value):
    source = open(os.path.join(ZOO, "vmnist-sph2sand-3d", "recipe.toml")).read()
    old = {"name": 'name = "vmnist-sph2sand-3d"', "task": 'task = "vmnist-sph2sand"'}[key]
    path = tmp_path / "recipe.toml"
    path.write_text(source.replace(old, f"{key} = {json.dumps(value)}"))
    with pytest.raises(recipes.RecipeError) as error:
        recipes.load_recipe(path)
    message = str(error.value)
    assert message.startswith(f"{path}: {key} must be a Hugging Face Hub repo name")
    assert "\n" not in message and (repr(value) in message or "97 characters" in message)
    assert cli.main(["train", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# ------------------------------------------------------ parameter counts


@pytest.mark.parametrize("name, networks", [("vmnist-sph2sand-3d", 479_092), ("street-seg2rgb-3d", 1_436_940)])
def test_zoo_counts_the_networks_not_the_history_pools(name, networks):
    spec = storage.read_preset_spec(os.path.join(ZOO, name))
    counts = parameter_counts(spec)
    assert counts["generators"] + counts["discriminators"] == networks
    model = v2v.from_pretrained(name)
    assert {k: counts[k] for k in NETWORKS} == {k: getattr(model, k).count_params() for k in NETWORKS}
    model.compile(pool_size=50)
    assert model.count_params() > networks  # what the old "total" reported: the pools are buffers too
    card = open(os.path.join(ZOO, name, "README.md")).read()
    assert f"{networks:,} in all four networks" in card and f"{model.count_params():,}" not in card


def test_list_and_info_show_per_network_counts(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "G params" in out and "D params" in out and "params (G)" not in out
    row = next(line for line in out.splitlines() if line.startswith("vmnist-sph2sand-3d "))
    assert "206,753" in row and "32,793" in row
    assert cli.main(["info", "vmnist-sph2sand-3d"]) == 0
    shown = json.loads(capsys.readouterr().out)["parameters"]
    assert shown["generator_a2b"] == 206_753 and shown["discriminator_b"] == 32_793 and "total" not in shown


def test_an_older_keras_v2v_json_still_displays_sensibly(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "old-preset"
    shutil.copytree(os.path.join(ZOO, "vmnist-sph2sand-3d"), folder)
    spec = json.loads((folder / storage.PRESET_FILE).read_text())
    spec["parameters"] = {"generator_a2b": 206_753, "total": 2_117_494}  # as keras-v2v 0.1.0 wrote it
    spec.pop("generators_only")
    (folder / storage.PRESET_FILE).write_text(json.dumps(spec))
    assert cli.main(["info", str(folder)]) == 0
    shown = json.loads(capsys.readouterr().out)["parameters"]
    assert shown["generator_a2b"] == 206_753 and "2117494" not in json.dumps(shown) and "older" in shown["note"]
    assert "- parameters: 206,753 in each generator\n" in cards.card_from_spec(spec)
    entry = zoo.registry_entry(str(folder))
    assert (entry["generator_parameters"], entry["discriminator_parameters"]) == (206_753, None)
    # An older registry.json had one "parameters" number per preset: list shows it as G params.
    old_registry = {n: {**e, "parameters": e["generator_parameters"]} for n, e in registry.load_registry().items()}
    for e in old_registry.values():
        del e["generator_parameters"], e["discriminator_parameters"]
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(old_registry))
    monkeypatch.setattr(registry, "REGISTRY_FILE", str(path))
    assert cli.main(["list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("vmnist-sph2sand-3d "))
    assert row.split()[4:6] == ["206,753", "-"]


# ---------------------------------------------------------------- domains


def test_every_preset_of_a_task_names_the_same_domains():
    by_task = {}
    for name, entry in registry.load_registry().items():
        by_task.setdefault(entry["task"], {})[name] = tuple(entry["domains"])
    for task, domains in by_task.items():
        assert len(set(domains.values())) == 1, f"{task}: {domains}"
    for name in TRAINED:  # and each folder's config.json agrees with its keras_v2v.json
        with open(os.path.join(ZOO, name, "config.json")) as handle:
            config = json.load(handle)["config"]
        assert config["domains"] == storage.read_preset_spec(os.path.join(ZOO, name))["domains"], name


# ------------------------------------------------------ generators only


def test_a_generators_only_preset_warns_when_saved_and_is_refused_for_publishing(tmp_path, capsys):
    lite = v2v.from_pretrained("vmnist-sph2sand-3d", discriminators=False)
    with pytest.warns(storage.GeneratorsOnlyWarning, match="cannot be fine-tuned.*allow_generators_only=True"):
        lite.save_pretrained(tmp_path / "lite")
    spec = storage.read_preset_spec(tmp_path / "lite")
    assert spec["generators_only"] is True and "discriminator_a" not in spec["parameters"]
    assert "no discriminators" in (tmp_path / "lite" / "README.md").read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error", storage.GeneratorsOnlyWarning)
        lite.save_pretrained(tmp_path / "lite2", allow_generators_only=True)
        v2v.from_pretrained("vmnist-sph2sand-3d").save_pretrained(tmp_path / "full")

    with pytest.raises(ValueError, match="found generators only") as error:
        publish.check_preset_folder(tmp_path / "lite")
    assert "\n" not in str(error.value) and "allow_generators_only=True" in str(error.value)
    assert "model.weights.h5" in publish.check_preset_folder(tmp_path / "lite", allow_generators_only=True)
    with pytest.raises(ValueError, match="found generators only"):
        publish.push_to_hub(lite, "someone/lite", endpoint="http://127.0.0.1:9")  # refused before any request
    args = ["publish", str(tmp_path / "lite"), "--repo", "someone/lite", "--dry-run"]
    assert cli.main(args) == 2
    assert "--allow-generators-only" in capsys.readouterr().err
    assert cli.main(args + ["--allow-generators-only"]) == 0


def test_the_round_trip_check_catches_front_matter_written_with_f_strings(tmp_path):
    from huggingface_hub import ModelCard

    old_style = "---\nlibrary_name: keras\nmodel-index:\n- name: my model: v2\n  results: []\n---\n# card\n"
    (tmp_path / "README.md").write_text(old_style)
    import yaml

    with pytest.raises(yaml.YAMLError, match="mapping values are not allowed here"):
        card_round_trip(tmp_path / "README.md")  # huggingface_hub's parser, as the Hub reads the card
    assert ModelCard(cards.card_from_spec({"name": "my model: v2", "evaluation": EVALUATION})).data.to_dict()
