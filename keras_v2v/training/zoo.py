"""The zoo's registry entries, derived from its preset folders (`python zoo/sync_registry.py`).

An entry comes from a folder's recipe and, once trained, its keras_v2v.json;
a recipe-only entry's parameter count is computed by building the model.
"""

import os

from keras_v2v.presets import spec as presets_spec
from keras_v2v.presets import storage
from keras_v2v.training import pipeline, recipes

def registry_entry(folder):
    """The registry entry of one zoo folder: from its recipe and, when trained, its keras_v2v.json."""
    recipe = recipes.load_recipe(os.path.join(folder, "recipe.toml"))
    spec = storage.read_preset_spec(folder)
    entry = {
        "task": recipe.task,
        "method": recipe.method,
        "generator": recipe.dataset["generator"],
        "description": recipe.description,
        "hub_repo": recipe.export.get("hub_repo"),
        "sample_clip": recipe.export.get("sample_clip"),
    }
    if spec is None:
        generator, discriminator = _untrained_parameters(recipe)
        entry.update(recipe_only=True, sha256=None, metric="", generator_parameters=generator,
                     discriminator_parameters=discriminator,
                     input_shape=[recipe.model["clip_length"]] * recipe.is_3d + _recipe_frame(recipe),
                     domains=["segmentation", "rgb"] if recipe.dataset["generator"] == "gta" else ["a", "b"])
        return entry
    entry.update(recipe_only=False, sha256=spec["sha256"][storage.WEIGHTS_FILE], metric=spec.get("metric", ""),
                 generator_parameters=presets_spec.generator_parameters(spec),
                 discriminator_parameters=presets_spec.discriminator_parameters(spec),
                 input_shape=spec["input_shape"], domains=spec["domains"])
    return entry


def _recipe_frame(recipe):
    size = recipe.dataset.get("size") or [recipe.dataset.get("height"), recipe.dataset.get("width")]
    size = [size, size] if isinstance(size, int) else list(size)
    return size + [3]


def _untrained_parameters(recipe):
    """(generator, discriminator) parameters of a recipe nobody has trained: built on the fly (no data needed)."""
    frame = tuple(_recipe_frame(recipe))
    stand_in = pipeline.RecipeData(None, None, None, frame, 3, ("segmentation", "rgb"))
    counts = presets_spec.network_parameters(pipeline.build_model(recipe, stand_in))
    return counts["generator_a2b"], counts["discriminator_a"]


def registry_from_zoo(zoo):
    entries = {}
    for name in sorted(os.listdir(zoo)):
        if os.path.exists(os.path.join(zoo, name, "recipe.toml")):
            entries[name] = registry_entry(os.path.join(zoo, name))
    for name, entry in entries.items():
        # A 3D preset's framewise "random" baseline, for comparisons (the demo's plot).
        baseline = f"{entry['task']}-2d-random"
        entry["baseline"] = baseline if entry["method"] == "3d" and baseline in entries else None
    return entries


def refresh_preset_metadata(folder):
    """Rewrites a preset folder's keras_v2v.json counts and README.md card from what it holds; no retraining.

    The networks are loaded (weights checked against the recorded sha256) only
    to count their parameters; model.weights.h5 and config.json are not touched.
    Returns the new spec.
    """
    from keras_v2v.presets import cards
    from keras_v2v.utils.files import write_json, write_text

    spec = storage.read_preset_spec(folder)
    if spec is None:
        raise ValueError(f"{folder}: no {storage.PRESET_FILE}; only a trained preset folder can be refreshed")
    model = storage.load_folder(folder)
    counted = presets_spec.model_spec(model)
    refreshed = {}
    for key, value in spec.items():
        refreshed[key] = counted["parameters"] if key == "parameters" else value
        if key == "parameters":
            refreshed["generators_only"] = counted["generators_only"]
    if refreshed.get("domains") != counted["domains"]:
        raise ValueError(f"{folder}: {storage.PRESET_FILE} names domains {refreshed.get('domains')} but "
                         f"config.json {counted['domains']}; make them agree first")
    write_json(os.path.join(folder, storage.PRESET_FILE), refreshed, default=float)
    write_text(os.path.join(folder, "README.md"), cards.card_from_spec(refreshed))
    return refreshed
