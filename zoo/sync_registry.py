"""Regenerates keras_v2v/registry.json from the preset folders in zoo/.

Run after exporting or retraining a preset:  python zoo/sync_registry.py
A test fails when the registry and zoo/ disagree (names, checksums, metrics).
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from keras_v2v.presets import registry  # noqa: E402
from keras_v2v.training import zoo  # noqa: E402


def main():
    entries = zoo.registry_from_zoo(HERE)
    tmp = registry.REGISTRY_FILE + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(entries, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, registry.REGISTRY_FILE)
    print(f"wrote {registry.REGISTRY_FILE}: {len(entries)} presets")


if __name__ == "__main__":
    main()
