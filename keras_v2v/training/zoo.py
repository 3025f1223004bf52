"""The zoo's registry entries, derived from its preset folders (`python zoo/sync_registry.py`).

An entry comes from a folder's recipe and, once trained, its keras_v2v.json;
a recipe-only entry's parameter count is computed by building the model.
"""

import os

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
        entry.update(recipe_only=True, sha256=None, metric="", parameters=_untrained_parameters(recipe),
                     input_shape=[recipe.model["clip_length"]] * recipe.is_3d + _recipe_frame(recipe),
                     domains=["segmentation", "rgb"] if recipe.dataset["generator"] == "gta" else ["a", "b"])
        return entry
    entry.update(recipe_only=False, sha256=spec["sha256"][storage.WEIGHTS_FILE], metric=spec.get("metric", ""),
                 parameters=spec["parameters"]["generator_a2b"], input_shape=spec["input_shape"],
                 domains=spec["domains"])
    return entry


def _recipe_frame(recipe):
    size = recipe.dataset.get("size") or [recipe.dataset.get("height"), recipe.dataset.get("width")]
    size = [size, size] if isinstance(size, int) else list(size)
    return size + [3]


def _untrained_parameters(recipe):
    """Generator parameters of a recipe nobody has trained: built on the fly (no data needed)."""
    frame = tuple(_recipe_frame(recipe))
    stand_in = pipeline.RecipeData(None, None, None, frame, 3, ("segmentation", "rgb"))
    return pipeline.build_model(recipe, stand_in).generator_a2b.count_params()


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
