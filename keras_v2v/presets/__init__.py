"""Presets: the folder format, the registry of named presets, model cards and the Hub.

A preset is a folder (Keras' unzipped model plus `keras_v2v.json` and a model
card) that `from_pretrained` finds by name, path or Hub repo id and that
`push_to_hub` uploads. Nothing here imports model code: folders are read and
written through Keras' serialization registry, and the listing functions
(`list_pretrained`, `resolve`) import no Keras backend at all.
"""

from keras_v2v.presets.registry import (
    PresetNotFoundError,
    from_pretrained,
    list_pretrained,
    load_registry,
    resolve,
)
from keras_v2v.presets.storage import load_folder, read_preset_spec, save_pretrained

__all__ = [
    "PresetNotFoundError",
    "from_pretrained",
    "list_pretrained",
    "load_folder",
    "load_registry",
    "read_preset_spec",
    "resolve",
    "save_pretrained",
]
