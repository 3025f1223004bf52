"""Preset folders: `save_pretrained` writes one, `from_pretrained` loads one.

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
import shutil
import tempfile

import keras

PRESET_FILE = "keras_v2v.json"
WEIGHTS_FILE = "model.weights.h5"
FORMAT_VERSION = 1


def sha256_of(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _inference_copy(model):
    """The same networks and weights, uncompiled: no optimizer, no pools."""
    copy = type(model).from_config(model.get_config())
    for source, target in zip(
        model.generators + model.discriminators, copy.generators + copy.discriminators
    ):
        target.set_weights(source.get_weights())
    return copy


def _model_card(model):
    kind = "3D (spatio-temporal)" if model.rank == 3 else "2D (framewise)"
    a, b = model.domains
    return f"""---
library_name: keras
tags:
- keras-v2v
- video-to-video
- cyclegan
- unpaired-image-translation
---

# {model.name}

A {kind} CycleGAN translating `{a}` <-> `{b}`, made with
[keras-v2v](https://pypi.org/project/keras-v2v/).

- input shape of one training sample: `{list(model.sample_shape)}`
- channels: {a} = {model.channels_a}, {b} = {model.channels_b}
- parameters: {model.count_params():,}

```python
import keras_v2v as v2v
model = v2v.from_pretrained("path/or/repo")
out = model.translate(video, direction="a2b")  # (T, H, W, C) uint8 or float in [0, 1]
```

Training data, recipe and metrics: not recorded for this preset.
"""


def save_pretrained(model, directory, overwrite=False):
    """Writes `model` as a preset folder, atomically; returns the folder path."""
    directory = os.path.abspath(os.fspath(directory))
    if os.path.exists(directory) and not overwrite:
        raise FileExistsError(f"{directory} already exists; pass overwrite=True to replace it.")
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".preset-", dir=parent)
    try:
        folder = os.path.join(staging, "preset")
        _inference_copy(model).save(folder, zipped=False)
        spec = {
            "format_version": FORMAT_VERSION,
            "class": type(model).__name__,
            "rank": model.rank,
            "input_shape": list(model.sample_shape),
            "channels": {"a": model.channels_a, "b": model.channels_b},
            "domains": list(model.domains),
            "value_range": "uint8 [0, 255] or float [0, 1]; the networks see [-1, 1]",
            "sha256": {WEIGHTS_FILE: sha256_of(os.path.join(folder, WEIGHTS_FILE))},
        }
        with open(os.path.join(folder, PRESET_FILE), "w") as handle:
            json.dump(spec, handle, indent=2)
        with open(os.path.join(folder, "README.md"), "w") as handle:
            handle.write(_model_card(model))
        if os.path.exists(directory):
            backup = os.path.join(staging, "previous")
            os.replace(directory, backup)
        os.replace(folder, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def read_preset_spec(directory):
    path = os.path.join(directory, PRESET_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def from_pretrained(preset, compile=False):
    """Loads a CycleGAN from a preset folder written by `save_pretrained`.

    Args:
        preset: path of a preset folder.
        compile: unused for presets (they hold no optimizer); call
            `model.compile(...)` yourself to fine-tune.
    """
    # Registers the custom layers before Keras reads the config.
    import keras_v2v  # noqa: F401

    directory = os.fspath(preset)
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"No preset folder at {directory!r}. Expected a folder written by "
            "`model.save_pretrained(...)` (config.json, model.weights.h5, keras_v2v.json)."
        )
    for name in ("config.json", WEIGHTS_FILE):
        if not os.path.exists(os.path.join(directory, name)):
            raise FileNotFoundError(f"{directory}: preset folder has no {name}.")
    spec = read_preset_spec(directory)
    if spec and WEIGHTS_FILE in spec.get("sha256", {}):
        found = sha256_of(os.path.join(directory, WEIGHTS_FILE))
        if found != spec["sha256"][WEIGHTS_FILE]:
            raise ValueError(
                f"{directory}/{WEIGHTS_FILE}: sha256 {found} does not match "
                f"{spec['sha256'][WEIGHTS_FILE]} recorded in {PRESET_FILE}; the "
                "weights were changed or corrupted. Re-download or re-export the preset."
            )
    return keras.saving.load_model(directory, compile=compile)
