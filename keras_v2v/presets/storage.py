"""Preset folders: `save_pretrained` writes one, `load_folder` loads one (names: `registry`).

A preset folder is Keras 3's unzipped model format (config.json,
metadata.json, model.weights.h5, loadable with plain
`keras.saving.load_model(folder)` once keras_v2v is imported) plus
`keras_v2v.json` (what the zoo needs: input spec, domains, checksums) and a
README.md model card. It holds the four networks only: no optimizer state
and no history pool, so it is what a Hugging Face Hub model repo holds.
"""

import hashlib
import json
import os
import warnings

from keras_v2v.presets import lineage
from keras_v2v.presets.spec import config_is_generators_only, model_spec
from keras_v2v.utils.files import atomic_path, check_output_path, refuse_foreign, refuse_special

PRESET_FILE = "keras_v2v.json"
WEIGHTS_FILE = "model.weights.h5"
FORMAT_VERSION = 1
# What save_pretrained and `keras-v2v train` write into a preset folder (newer
# folders list theirs in keras_v2v.json "files"); anything else is a user's.
PRESET_FILES = frozenset({"config.json", "metadata.json", WEIGHTS_FILE, PRESET_FILE, "README.md", "recipe.toml",
                          "LICENSE-DATA.md"})


def sha256_of(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def json_text(spec):
    """keras_v2v.json as every writer writes it (save_pretrained, zoo/refresh_metadata.py): one format, final newline."""
    return json.dumps(spec, indent=2, default=float) + "\n"


def _inference_copy(model):
    """The same networks and weights, uncompiled: no optimizer, no pools."""
    copy = type(model).from_config(model.get_config())
    for source, target in zip(
        model.generators + model.discriminators, copy.generators + copy.discriminators
    ):
        target.set_weights(source.get_weights())
    return copy


class GeneratorsOnlyWarning(UserWarning):
    """A preset saved without its discriminators: it translates but cannot be fine-tuned."""


def _generators_only_message(model, allow_flag):
    return (f"{model.name} has no discriminators (it was loaded with discriminators=False): the preset will "
            "translate but cannot be fine-tuned. Load it with discriminators=True to keep them, or pass "
            f"{allow_flag} to save it as an inference-only preset.")


def store_weights_as(path, dtype):
    """Rewrites the float32 arrays of a Keras weights file as `dtype` (e.g. float16: half the size).

    Keras casts them back to the variables' dtype when loading, so the model
    still computes in float32; only the stored precision changes.
    """
    import h5py
    import numpy as np

    with h5py.File(path, "r+") as handle:
        names = []
        handle.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        for name in names:
            values = handle[name][()]
            if getattr(values, "dtype", None) == np.float32:
                del handle[name]
                handle.create_dataset(name, data=values.astype(dtype))


def is_preset_folder(directory):
    """True for a folder keras-v2v wrote with `save_pretrained` (its keras_v2v.json names the format)."""
    spec_path = os.path.join(directory, PRESET_FILE)
    if not (os.path.isdir(directory) and os.path.isfile(spec_path)
            and os.path.isfile(os.path.join(directory, "config.json"))):
        return False
    try:
        with open(spec_path) as handle:
            spec = json.load(handle)
    except (OSError, ValueError):
        return False
    return isinstance(spec, dict) and "format_version" in spec and "sha256" in spec


def is_generators_only(directory):
    """True for a preset folder whose config.json holds no discriminators (any keras-v2v version)."""
    try:
        with open(os.path.join(directory, "config.json")) as handle:
            return config_is_generators_only(json.load(handle))
    except (OSError, ValueError):
        return False


def preset_files(directory):
    """The files of a preset folder that keras-v2v wrote, as relative paths."""
    try:
        listed = (read_preset_spec(directory) or {}).get("files")
    except ValueError:
        listed = None
    return set(listed) if isinstance(listed, list) and all(isinstance(n, str) for n in listed) else set(PRESET_FILES)


def check_preset_target(directory, overwrite=False, replace_foreign=False):
    """Refuses to write a preset where it would destroy something that was not asked for.

    A missing or empty folder is always fine; a preset folder keras-v2v wrote
    is replaced when `overwrite`, unless files were added to it since;
    anything else (a file, a folder of other files, a preset holding a user's
    notes) only when `replace_foreign` (the CLI's --overwrite).
    """
    directory = check_output_path(directory, "preset folder")
    if not os.path.lexists(directory) or (os.path.isdir(directory) and not os.listdir(directory)):
        return directory
    if is_preset_folder(directory):
        if replace_foreign:
            return directory
        if overwrite:
            refuse_foreign(directory, preset_files(directory), "keras-v2v (a preset)",
                           flag="--overwrite (replace_foreign=True)")
            return directory
        raise FileExistsError(f"{directory} already holds a preset; pass overwrite=True (--overwrite) to replace it.")
    if replace_foreign:
        return directory
    what = "a file" if not os.path.isdir(directory) else "a folder of files that are not a keras-v2v preset"
    raise FileExistsError(f"{directory} is {what}; refusing to replace it. Choose another output folder "
                          "(or pass --overwrite to replace it anyway).")


def save_pretrained(model, directory, overwrite=False, weights_dtype=None, card=None, metadata=None,
                    extra_files=None, replace_foreign=False, allow_generators_only=False):
    """Writes `model` as a preset folder, atomically; returns the folder path.

    Args:
        overwrite: replace an existing preset folder (see `check_preset_target`;
            a folder that is not a preset is never replaced unless `replace_foreign`).
        weights_dtype: store the weights as this dtype ("float16" halves the
            folder); None keeps the variables' dtype.
        card: README.md text (default: a card built from the model and `metadata`,
            with `metadata["evaluation"]` in its model-index and Evaluation section).
        metadata: extra fields for keras_v2v.json (name, task, method, evaluation, ...).
            A model `from_pretrained` returned brings its preset's: fine-tuned, a
            derived name, the base's task and method and `base_model`; untrained,
            the base's own record (`keras_v2v.presets.lineage`). `metadata` overrides them.
        extra_files: {file name in the folder: text} (a recipe, a data licence).
        allow_generators_only: save a model without discriminators without the
            `GeneratorsOnlyWarning` (such a preset cannot be fine-tuned).
    """
    from keras_v2v.presets import cards

    if not model.discriminators and not allow_generators_only:
        warnings.warn(_generators_only_message(model, "allow_generators_only=True"), GeneratorsOnlyWarning,
                      stacklevel=2)
    directory = check_preset_target(directory, overwrite, replace_foreign)
    with atomic_path(directory, is_dir=True) as folder:
        _inference_copy(model).save(folder, zipped=False)
        weights = os.path.join(folder, WEIGHTS_FILE)
        assets = os.path.join(folder, "assets")
        if os.path.isdir(assets) and not os.listdir(assets):
            os.rmdir(assets)  # git keeps no empty folders; a clone must hold the same files
        if weights_dtype:
            store_weights_as(weights, weights_dtype)
        spec = {
            "format_version": FORMAT_VERSION,
            **model_spec(model),
            "weights_dtype": weights_dtype or "float32",
            **lineage.lineage_metadata(model),
            **(metadata or {}),
            "sha256": {WEIGHTS_FILE: sha256_of(weights)},
        }
        written = set(PRESET_FILES) | set(extra_files or {}) | {
            os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/")
            for root, _, names in os.walk(assets) for name in names}
        if written != PRESET_FILES:  # other files than usual: listed, so a later overwrite knows them as ours
            spec["files"] = sorted(written)
        with open(os.path.join(folder, PRESET_FILE), "w") as handle:
            handle.write(json_text(spec))
        with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as handle:
            handle.write(card if card is not None else cards.card_from_spec(spec))
        for name, text in (extra_files or {}).items():
            with open(os.path.join(folder, name), "w") as handle:
                handle.write(text)
    return directory


def read_preset_spec(directory):
    """The folder's keras_v2v.json as a dict, None when there is none; ValueError when it is not a JSON object."""
    path = os.path.join(directory, PRESET_FILE)
    if not os.path.exists(path):
        return None
    refuse_special(path, "the preset's record (a JSON file)")
    try:
        with open(path) as handle:
            spec = json.load(handle)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{path} is not readable JSON ({' '.join(str(error).split())})") from None
    if not isinstance(spec, dict):
        raise ValueError(f"{path} must hold a JSON object (the preset's spec), found {type(spec).__name__}")
    sha = spec.get("sha256", {})
    if not isinstance(sha, dict) or not all(isinstance(v, str) for v in sha.values()):
        raise ValueError(f"{path}: \"sha256\" must map file names to hex digests, found {sha!r}")
    return spec


def verify_weights(directory, expected_sha256=None, label=None):
    """Checks the folder's weights against `expected_sha256` (the registry's) and its own record; returns the sha256.

    ValueError, naming both digests, when either differs: the weights were changed or corrupted.
    """
    spec = read_preset_spec(directory) or {}
    weights = os.path.join(directory, WEIGHTS_FILE)
    refuse_special(weights, f"the preset's {WEIGHTS_FILE} as a regular file")
    found = sha256_of(weights)
    for source, expected in (("the registry", expected_sha256),
                             (PRESET_FILE, spec.get("sha256", {}).get(WEIGHTS_FILE))):
        if expected and found != expected:
            raise ValueError(
                f"{label or directory}: {weights} has sha256 {found}, but {source} records {expected}; the "
                "weights were changed or corrupted. Re-download or re-export the preset."
            )
    return found


def _config_classes(node):
    """(module, class_name) of every serialized object in a Keras config."""
    if isinstance(node, dict):
        if "class_name" in node:
            yield str(node.get("module")), str(node.get("class_name"))
        for value in node.values():
            yield from _config_classes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _config_classes(value)


def check_config(directory, label=None):
    """Refuses a config.json naming anything a preset never holds: classes outside Keras and keras-v2v, Lambda code.

    Keras' safe mode refuses much of it too, but its refusal surfaced as "config
    and weights do not match"; this one says what the file asks for.
    """
    path = os.path.join(directory, "config.json")
    try:
        with open(path) as handle:
            config = json.load(handle)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{label or directory}: {path} is not readable JSON ({' '.join(str(error).split())})") from None
    if not isinstance(config, dict) or config.get("class_name") != "CycleGAN":
        found = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        raise ValueError(f"{label or directory}: {path} must describe a keras-v2v CycleGAN, found {found!r}")
    for module, name in _config_classes(config):
        if name == "Lambda" or not (module in ("keras", "None") or module.startswith(("keras.", "keras_v2v."))):
            raise ValueError(f"{label or directory}: {path} asks for {module}.{name}, which no keras-v2v preset "
                             "holds (only Keras and keras-v2v classes, no Lambda code); refusing to load it")


def load_folder(directory, expected_sha256=None, discriminators=True, label=None):
    """Loads a preset folder, checking its weights against `expected_sha256` (or its own record).

    `discriminators=False` builds only the generators (inference; the
    discriminators often hold most of the weights); such a model translates
    but cannot be compiled for training.
    """
    directory = os.fspath(directory)
    label = label or directory
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"No preset folder at {directory!r}. Expected a folder written by "
            "`model.save_pretrained(...)` (config.json, model.weights.h5, keras_v2v.json)."
        )
    for name in ("config.json", WEIGHTS_FILE):
        if not os.path.exists(os.path.join(directory, name)):
            raise FileNotFoundError(f"{label}: preset folder {directory} has no {name}.")
        refuse_special(os.path.join(directory, name), f"the preset's {name} as a regular file")
    verify_weights(directory, expected_sha256, label)
    check_config(directory, label)
    spec = read_preset_spec(directory) or {}  # the lineage the loaded model carries
    weights = os.path.join(directory, WEIGHTS_FILE)
    try:
        # Keras only warns when parts of the weights file match nothing; a preset must match fully.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = _load(directory, weights, discriminators)
        skipped = [w for w in caught if "saving" in str(w.filename) and issubclass(w.category, UserWarning)]
        if skipped:
            raise ValueError(str(skipped[0].message))
        # A name or Hub repo id (not the folder's path) may be the preset's repo id.
        return lineage.attach(model, spec, asked=None if label == directory else label)
    except Exception as error:  # h5py, Keras and numpy raise many types for a damaged folder
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        damage = _weights_damage(weights)
        if damage:  # a cut or corrupt file: say so, not that the two files disagree
            raise ValueError(f"{label}: {weights} is damaged ({damage}); re-download or re-export the preset") from None
        raise ValueError(
            f"{label}: config.json and {WEIGHTS_FILE} in {directory} do not match ({first_line}). "
            "Re-export the preset with save_pretrained."
        ) from None


def _weights_damage(path):
    """Why the HDF5 weights file cannot be read in full (truncated, corrupt), or None when every array reads."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            arrays = []
            handle.visititems(lambda name, obj: arrays.append(name) if isinstance(obj, h5py.Dataset) else None)
            for name in arrays:
                handle[name][()]
    except Exception as error:  # h5py raises OSError, KeyError, RuntimeError... for damaged files
        return f"not a readable HDF5 file: {' '.join(str(error).split())[:160] or type(error).__name__}"
    return None


def _load(directory, weights, discriminators):
    import keras

    # Keras finds the classes by their registered names (keras_v2v registers
    # them when Keras is imported), so this module needs no model code.
    if discriminators:
        return keras.saving.load_model(directory, compile=False)
    with open(os.path.join(directory, "config.json")) as handle:
        config = json.load(handle)
    config["config"] = dict(config["config"], discriminator_a=None, discriminator_b=None)
    model = keras.saving.deserialize_keras_object(config)
    model.load_weights(weights)
    return model
