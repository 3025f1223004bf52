"""Rewrites every zoo preset's keras_v2v.json parameter counts and README.md card, without retraining.

Run after changing how cards or counts are written, then `python zoo/sync_registry.py`:
    python zoo/refresh_metadata.py [NAME ...]
model.weights.h5 and config.json are left as they are (their checksums still hold).
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_v2v.presets import storage  # noqa: E402
from keras_v2v.training import zoo  # noqa: E402


def main(names=None):
    names = names or sorted(n for n in os.listdir(HERE) if os.path.isfile(os.path.join(HERE, n, storage.PRESET_FILE)))
    for name in names:
        spec = zoo.refresh_preset_metadata(os.path.join(HERE, name))
        counts = spec["parameters"]
        print(f"{name}: {counts['generator_a2b']:,} per generator, {counts.get('discriminator_a', 0):,} per "
              f"discriminator; card rewritten")


if __name__ == "__main__":
    main(sys.argv[1:])
